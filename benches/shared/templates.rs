//! The templated manifests both push benchmarks use: a realistic control-plane-style pod
//! with 20 per-host flags.

/// Manifest template number `i` (Jinja2; renders per `inventory_hostname`).
pub fn template(i: usize) -> String {
    let mut s = format!(
        "apiVersion: v1\nkind: Pod\nmetadata:\n  name: svc{i}\n  namespace: kube-system\n  labels:\n    app: svc{i}\n    node: \"{{{{ inventory_hostname }}}}\"\nspec:\n  hostNetwork: true\n  priorityClassName: system-node-critical\n  containers:\n  - name: svc{i}\n    image: registry.local/svc{i}:1.{i}\n    command:\n    - /usr/local/bin/svc{i}\n    - --node={{{{ inventory_hostname }}}}\n    - --listen=0.0.0.0:{}\n",
        9000 + i
    );
    for k in 0..20 {
        s.push_str(&format!(
            "    - --flag-{k}=value-{k}-{{{{ inventory_hostname }}}}\n"
        ));
    }
    s.push_str("    resources:\n      requests:\n        cpu: 100m\n        memory: 64Mi\n");
    s
}
