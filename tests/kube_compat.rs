//! kubectl compatibility: a table of the read commands people type every day, and the
//! mutations they try, run with the real `kubectl` against a fleet of real agents; then the
//! official Python client (list, read, watch with timeout/resourceVersion/bookmarks/410).

mod common;

use std::process::Command;
use std::time::Duration;

use common::kubelab::{Lab, lab};
use common::{podfleet, wait_for, write};

/// One kubectl command: its arguments, the exit code, what its output (stdout and stderr)
/// must contain and must not.
struct Case {
    args: Vec<String>,
    code: i32,
    has: Vec<String>,
    lacks: Vec<String>,
}

/// A control-plane pod pushed to n1 (with limits, a probe, a priority class) and the
/// `podfleet_role_groups` that makes `control_plane` a node role.
fn push_control_plane(lab: &Lab) {
    let p = lab.path();
    write(
        &p.join("push/manifests/cp.yaml"),
        "apiVersion: v1\nkind: Pod\nmetadata:\n  name: cp\n  namespace: kube-system\n  labels: {tier: control-plane}\nspec:\n  priorityClassName: system-node-critical\n  containers:\n  - name: main\n    image: busybox:1.36\n    command: [sleep, '3600']\n    resources:\n      limits: {cpu: 100m, memory: 64Mi}\n    livenessProbe:\n      exec: {command: ['true']}\n",
    );
    let host = |n: &str, pods: &str| {
        format!(
            "        {n}:\n          ansible_connection: local\n          static_pod_path: {}\n          podfleet_config_dir: {}\n          static_pods: {pods}\n",
            p.join("nodes").join(n).display(),
            p.join("pki").join(n).display()
        )
    };
    write(
        &p.join("push/hosts.yaml"),
        &format!(
            "all:\n  vars:\n    podfleet_role_groups: [control_plane]\n  children:\n    control_plane:\n      hosts:\n{}    workers:\n      hosts:\n{}",
            host("n1", "[cp.yaml]"),
            host("n2", "[]")
        ),
    );
    podfleet(
        p,
        &[
            "-i",
            "push/hosts.yaml",
            "--manifests",
            "push/manifests",
            "--state-dir",
            "state",
            "push",
        ],
        &[],
    )
    .expect(0);
    wait_for(Duration::from_secs(60), "cp-n1 Running", || {
        let out = lab.kubectl("fleet.kubeconfig", &["get", "pods", "-n", "kube-system"]);
        out.stdout.contains("Running").then_some(())
    });
}

fn kernel() -> String {
    std::fs::read_to_string("/proc/sys/kernel/osrelease")
        .unwrap()
        .trim()
        .to_string()
}

fn arch() -> &'static str {
    match std::env::consts::ARCH {
        "x86_64" => "amd64",
        "aarch64" => "arm64",
        other => other,
    }
}

/// The read commands: `exit | kubectl arguments (shell words) | must contain ; … | must not ; …`.
/// `{kernel}` and `{arch}` stand for this machine's.
const READS: &str = r#"
0 | get pods -A | NAMESPACE; web-n1; db-n2; cp-n1; Running |
0 | get po -n edge -o wide | NODE; NOMINATED NODE; web-n1; n1 | db-n2
0 | get pod web-n1 -n edge -o yaml | qosClass: BestEffort; terminationMessagePath: /dev/termination-log; terminationMessagePolicy: File; imagePullPolicy: Always; schedulerName: default-scheduler; dnsPolicy: ClusterFirst; enableServiceLinks: true; securityContext: {}; priority: 0; kubernetes.io/config.mirror |
0 | get pod cp-n1 -n kube-system -o json | "qosClass": "Guaranteed"; "timeoutSeconds": 1; "periodSeconds": 10; "successThreshold": 1; "failureThreshold": 3; "priority": 2000001000; "imagePullPolicy": "IfNotPresent" |
0 | get pods -A -o name | pod/web-n1; pod/db-n2 | NAME
0 | get pods -n edge -o 'jsonpath={.items[*].metadata.name}' | web-n1 web-n2 |
0 | get pods -A -o custom-columns=NAME:.metadata.name,NODE:.spec.nodeName,QOS:.status.qosClass | NAME; QOS; Guaranteed; BestEffort |
0 | get pods -A --sort-by=.metadata.name | cp-n1; web-n2 | No resources
0 | get pods -A --sort-by=.spec.nodeName | db-n2 | No resources
0 | get pods -A --show-labels | LABELS; app=web; tier=control-plane |
0 | get pods -A -L app | APP; web; db |
0 | get pods -A -l app=db | db-n2 | web-n1
0 | get pods -A -l 'app in (web)' | web-n1; web-n2 | db-n2
0 | get pods -A -l app!=web | db-n2; cp-n1 | web-n1
0 | get pods -A --field-selector spec.nodeName=n2 | db-n2; web-n2 | web-n1
0 | get pods -A --field-selector status.phase=Running,metadata.namespace=edge | web-n1 | db-n2
1 | get pods -A -l 'bad label==' | Error from server (BadRequest); unable to parse requirement |
1 | get pod nosuch -n edge | NotFound; pods "nosuch" not found |
1 | get deployments | the server doesn't have a resource type "deployments" |
0 | get nodes | ROLES; control_plane; <none>; Ready | NotReady
0 | get nodes -o wide | OS-IMAGE; KERNEL-VERSION; {kernel}; process:// | <unknown>
0 | get node n1 -o 'jsonpath={.status.nodeInfo.architecture}' | {arch} |
0 | get node n1 -o 'jsonpath={.status.capacity.pods}/{.status.allocatable.pods}' | 110/110 |
0 | get nodes -l node-role.kubernetes.io/control_plane | n1 | n2
0 | describe node n1 | Roles:; control_plane; Capacity:; Allocatable:; System Info:; Kernel Version:; Allocated resources:; cp-n1 | -9223372036854775808
0 | describe pod web-n2 -n edge | QoS Class:; BestEffort; Node:; n2; Events:; Started |
0 | describe pod cp-n1 -n kube-system | QoS Class:; Guaranteed; Priority:; 2000001000; delay=0s timeout=1s period=10s #success=1 #failure=3 | timeout=0s
0 | get namespaces | edge; data; kube-system; Active |
0 | get ns edge -o yaml | kubernetes.io/metadata.name: edge |
0 | get events -A | Started; pod/web-n1 |
0 | get events -n edge --sort-by=.lastTimestamp | LAST SEEN; Started | No resources
0 | get events -A --field-selector reason=Started | Started | Pulled
0 | events -n edge | Started; Pod/web-n1 |
0 | get services -A | No resources found |
0 | wait --for=condition=Ready pod/web-n1 -n edge --timeout=30s | condition met |
0 | explain pod.spec.containers | KIND:; Pod; containers; DESCRIPTION |
0 | explain nodes.status.capacity | Node; capacity |
0 | explain pods --recursive | KIND:; Pod; containers; terminationMessagePath |
1 | get --raw /openapi/v3/apis/apps/v1 | NotFound |
0 | api-resources | pods; po; nodes; namespaces; events; services; selfsubjectreviews |
0 | api-versions | v1; metrics.k8s.io/v1beta1; authentication.k8s.io/v1; authorization.k8s.io/v1 |
0 | cluster-info | Kubernetes control plane; is running at |
0 | version | Client Version; Server Version: v1.33 |
0 | auth whoami | podfleet-admin |
0 | auth can-i list pods | yes |
0 | auth can-i watch nodes | yes |
1 | auth can-i delete pods | no |
1 | auth can-i patch nodes | no |
0 | auth can-i --list | pods; [get list watch] |
0 | get --raw /healthz | ok |
0 | get --raw /livez | ok |
0 | get --raw /readyz | ok |
0 | get --raw /metrics | podfleet_fleet_pods |
0 | get --raw /openapi/v3 | api/v1; serverRelativeURL |
0 | get --raw /openapi/v2 | "swagger":"2.0" |
0 | logs web-n1 -n edge | | Error
"#;

/// Every change kubectl can attempt: refused with a message, a non-zero exit, nothing done.
/// `{dir}` is the lab's directory.
const MUTATIONS: &str = r#"
1 | cordon n1 | cannot be cordoned | node/n1 cordoned
1 | uncordon n1 | cannot be cordoned |
1 | drain n1 --ignore-daemonsets | cannot be cordoned | node/n1 drained
1 | taint nodes n1 k=v:NoSchedule | MethodNotAllowed | node/n1 tainted
1 | label pod web-n1 -n edge x=y | read-only | labeled
1 | annotate node n1 a=b | read-only | annotated
1 | delete pod web-n1 -n edge | podfleet push | deleted
1 | patch pod web-n1 -n edge -p '{"metadata":{"labels":{"x":"y"}}}' | MethodNotAllowed | patched
1 | apply -f {dir}/apply.yaml | MethodNotAllowed | configured; created
1 | create -f {dir}/apply.yaml | MethodNotAllowed | created
1 | run x --image=busybox -n edge | MethodNotAllowed | created
1 | port-forward pod/web-n1 -n edge 18080:80 | not supported | edit manifests
"#;

/// Parse a table, substituting `{name}`s.
fn table(text: &str, vars: &[(&str, &str)]) -> Vec<Case> {
    let subst = |s: &str| {
        vars.iter().fold(s.to_string(), |acc, (k, v)| {
            acc.replace(&format!("{{{k}}}"), v)
        })
    };
    let list = |s: &str| -> Vec<String> {
        s.split(';')
            .map(str::trim)
            .filter(|x| !x.is_empty())
            .map(subst)
            .collect()
    };
    text.lines()
        .filter(|l| !l.trim().is_empty())
        .map(|l| {
            let cols: Vec<&str> = l.split('|').map(str::trim).collect();
            assert_eq!(cols.len(), 4, "bad table line: {l}");
            Case {
                code: cols[0].trim().parse().unwrap(),
                args: shlex::split(&subst(cols[1])).unwrap(),
                has: list(cols[2]),
                lacks: list(cols[3]),
            }
        })
        .collect()
}

fn run_table(lab: &Lab, cases: &[Case]) -> Vec<String> {
    let mut failures = Vec::new();
    for c in cases {
        let args: Vec<&str> = c.args.iter().map(String::as_str).collect();
        let out = lab.kubectl("fleet.kubeconfig", &args);
        let all = format!("{}{}", out.stdout, out.stderr);
        let mut wrong = Vec::new();
        if out.code != c.code {
            wrong.push(format!("exit {} (want {})", out.code, c.code));
        }
        wrong.extend(
            c.has
                .iter()
                .filter(|h| !all.contains(h.as_str()))
                .map(|h| format!("missing {h:?}")),
        );
        wrong.extend(
            c.lacks
                .iter()
                .filter(|l| all.contains(l.as_str()))
                .map(|l| format!("has {l:?}")),
        );
        if wrong.is_empty() {
            eprintln!("ok   kubectl {}", args.join(" "));
        } else {
            failures.push(format!(
                "kubectl {}: {}\n--- output ---\n{}",
                args.join(" "),
                wrong.join(", "),
                all.chars().take(3000).collect::<String>()
            ));
        }
    }
    failures
}

#[test]
fn kubectl_commands_answer_as_kube_apiserver_does() {
    let mut lab = lab();
    push_control_plane(&lab);
    write(
        &lab.path().join("apply.yaml"),
        "apiVersion: v1\nkind: Pod\nmetadata: {name: web-n1, namespace: edge}\nspec:\n  containers: [{name: main, image: busybox}]\n",
    );
    let kernel = kernel();
    let dir = lab.path().display().to_string();
    let vars = [
        ("kernel", kernel.as_str()),
        ("arch", arch()),
        ("dir", dir.as_str()),
    ];
    let reads = table(READS, &vars);
    assert!(reads.len() >= 40, "{} read commands", reads.len());
    let mut failures = run_table(&lab, &reads);
    failures.extend(run_table(&lab, &table(MUTATIONS, &vars)));
    // Nothing changed: the pods are all there, and no node is cordoned.
    let after = lab.get(&["get", "pods", "-A"]);
    assert!(
        after.contains("web-n1") && after.matches("Running").count() == 4,
        "{after}"
    );
    assert!(!lab.get(&["get", "nodes"]).contains("SchedulingDisabled"));
    // kubectl top: the agents' first usage samples take a few seconds to arrive.
    wait_for(Duration::from_secs(60), "kubectl top pods", || {
        let top = lab.kubectl("fleet.kubeconfig", &["top", "pods", "-n", "edge"]);
        (top.code == 0 && top.stdout.contains("web-n1") && top.stdout.contains("MEMORY"))
            .then_some(())
    });
    assert!(
        failures.is_empty(),
        "{} of the kubectl commands answered wrongly:\n\n{}",
        failures.len(),
        failures.join("\n\n")
    );

    // The official Python client.
    let script = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/kube_client.py");
    let kubeconfig = lab.path().join("fleet.kubeconfig");
    let python = |extra: &[&str]| {
        let out = Command::new("python3")
            .arg(&script)
            .arg(&kubeconfig)
            .args(extra)
            .output()
            .expect("python3 is installed");
        let text = format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        assert!(
            out.status.success() && text.contains("all checks passed"),
            "{text}"
        );
        eprint!("{text}");
    };
    python(&[]);
    // After a restart the coordinator's watch history starts again: a watch from an
    // earlier resourceVersion is 410 Gone, and the client sees it as such.
    let (_, list, _) = lab.curl("/api/v1/namespaces/edge/pods", 30);
    let list: serde_json::Value = serde_json::from_str(&list).unwrap();
    let old_rv = list["metadata"]["resourceVersion"]
        .as_str()
        .unwrap()
        .to_string();
    lab.restart_coordinator();
    python(&[&old_rv]);
}
