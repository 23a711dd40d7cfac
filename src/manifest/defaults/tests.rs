use super::*;

fn pod(yaml: &str) -> Pod {
    serde_yaml::from_str(yaml).unwrap()
}

fn defaulted(yaml: &str) -> serde_json::Value {
    let mut p = pod(yaml);
    apply(&mut p);
    serde_json::to_value(p).unwrap()
}

#[test]
fn a_bare_pod_gets_the_api_servers_defaults() {
    let v = defaulted(
        "apiVersion: v1\nkind: Pod\nmetadata: {name: web}\nspec:\n  containers:\n  - name: c\n    image: nginx\n    ports: [{containerPort: 80}]\n    livenessProbe: {httpGet: {port: 80}}\n    env: [{name: N, valueFrom: {fieldRef: {fieldPath: spec.nodeName}}}]\n  volumes: [{name: d}, {name: h, hostPath: {path: /x}}, {name: s, secret: {secretName: s}}]\n",
    );
    let spec = &v["spec"];
    assert_eq!(spec["dnsPolicy"], "ClusterFirst");
    assert_eq!(spec["restartPolicy"], "Always");
    assert_eq!(spec["schedulerName"], "default-scheduler");
    assert_eq!(spec["terminationGracePeriodSeconds"], 30);
    assert_eq!(spec["enableServiceLinks"], true);
    assert_eq!(spec["securityContext"], serde_json::json!({}));
    assert_eq!(spec["priority"], 0);
    assert_eq!(spec["preemptionPolicy"], "PreemptLowerPriority");
    let c = &spec["containers"][0];
    assert_eq!(c["imagePullPolicy"], "Always", "no tag means latest");
    assert_eq!(c["terminationMessagePath"], "/dev/termination-log");
    assert_eq!(c["terminationMessagePolicy"], "File");
    assert_eq!(c["ports"][0]["protocol"], "TCP");
    assert!(c["ports"][0].get("hostPort").is_none());
    let probe = &c["livenessProbe"];
    assert_eq!(probe["timeoutSeconds"], 1);
    assert_eq!(probe["periodSeconds"], 10);
    assert_eq!(probe["successThreshold"], 1);
    assert_eq!(probe["failureThreshold"], 3);
    assert_eq!(probe["httpGet"]["path"], "/");
    assert_eq!(probe["httpGet"]["scheme"], "HTTP");
    assert_eq!(c["env"][0]["valueFrom"]["fieldRef"]["apiVersion"], "v1");
    let vols = &spec["volumes"];
    assert_eq!(vols[0]["emptyDir"], serde_json::json!({}));
    assert_eq!(vols[1]["hostPath"]["type"], "");
    assert_eq!(vols[2]["secret"]["defaultMode"], 420);
}

#[test]
fn what_is_written_is_kept() {
    let v = defaulted(
        "apiVersion: v1\nkind: Pod\nmetadata: {name: web}\nspec:\n  hostNetwork: true\n  dnsPolicy: Default\n  restartPolicy: Never\n  priorityClassName: system-node-critical\n  containers:\n  - name: c\n    image: reg:5000/etcd:3.5@sha256:ab\n    imagePullPolicy: Never\n    ports: [{containerPort: 2379, protocol: UDP}]\n    readinessProbe: {exec: {command: [true]}, periodSeconds: 2}\n",
    );
    let spec = &v["spec"];
    assert_eq!(spec["dnsPolicy"], "Default");
    assert_eq!(spec["restartPolicy"], "Never");
    assert_eq!(spec["priority"], 2_000_001_000);
    let c = &spec["containers"][0];
    assert_eq!(c["imagePullPolicy"], "Never");
    assert_eq!(c["ports"][0]["protocol"], "UDP");
    assert_eq!(c["ports"][0]["hostPort"], 2379, "hostNetwork ports");
    assert_eq!(c["readinessProbe"]["periodSeconds"], 2);
}

fn qos(resources: &[&str]) -> &'static str {
    let containers: String = resources
        .iter()
        .enumerate()
        .map(|(i, r)| format!("  - {{name: c{i}, image: x, resources: {r}}}\n"))
        .collect();
    let mut p = pod(&format!(
        "apiVersion: v1\nkind: Pod\nmetadata: {{name: q}}\nspec:\n  containers:\n{containers}"
    ));
    apply(&mut p);
    qos_class(p.spec.as_ref().unwrap())
}

#[test]
fn qos_classes_follow_the_kubelets_rules() {
    assert_eq!(qos(&["{}"]), "BestEffort");
    assert_eq!(qos(&["{limits: {cpu: '0', memory: '0'}}"]), "BestEffort");
    assert_eq!(qos(&["{requests: {cpu: 100m}}"]), "Burstable");
    // Limits alone default the requests: Guaranteed.
    assert_eq!(qos(&["{limits: {cpu: 500m, memory: 64Mi}}"]), "Guaranteed");
    assert_eq!(
        qos(&["{requests: {cpu: '0.5', memory: 67108864}, limits: {cpu: 500m, memory: 64Mi}}"]),
        "Guaranteed",
        "equal quantities written differently"
    );
    assert_eq!(
        qos(&["{requests: {cpu: 250m, memory: 64Mi}, limits: {cpu: 500m, memory: 64Mi}}"]),
        "Burstable"
    );
    assert_eq!(qos(&["{limits: {memory: 64Mi}}"]), "Burstable");
    // Every container must be guaranteed.
    assert_eq!(qos(&["{limits: {cpu: 1, memory: 1Gi}}", "{}"]), "Burstable");
    // Other resources do not count.
    assert_eq!(qos(&["{limits: {ephemeral-storage: 1Gi}}"]), "BestEffort");
}

#[test]
fn quantities_are_exact() {
    assert_eq!(quantity_nanos("500m"), Some(500_000_000));
    assert_eq!(quantity_nanos("0.5"), Some(500_000_000));
    assert_eq!(quantity_nanos("1"), Some(1_000_000_000));
    assert_eq!(quantity_nanos("64Mi"), Some(67_108_864_000_000_000));
    assert_eq!(quantity_nanos("1e3"), Some(1_000_000_000_000));
    assert_eq!(quantity_nanos("1E"), Some(10i128.pow(27)));
    assert_eq!(quantity_nanos("1.5Gi"), quantity_nanos("1536Mi"));
    assert_eq!(quantity_nanos("1n"), Some(1));
    assert_eq!(quantity_nanos("-2"), Some(-2_000_000_000));
    for bad in ["", "x", "1.2.3", "Mi", "1Xi"] {
        assert_eq!(quantity_nanos(bad), None, "{bad}");
    }
}

/// kubeadm's etcd manifest (v1.33, trimmed to the fields defaulting touches) and its mirror
/// pod's spec as `kubectl get pod etcd-cp1 -n kube-system -o yaml` shows it on a kubeadm
/// v1.33 cluster (less `nodeName` and the kubelet's toleration, which the mirror adds).
#[test]
fn kubeadm_etcd_reads_as_on_a_kubeadm_cluster() {
    let written = "apiVersion: v1\nkind: Pod\nmetadata:\n  name: etcd\n  namespace: kube-system\nspec:\n  containers:\n  - command: [etcd, --data-dir=/var/lib/etcd]\n    image: registry.k8s.io/etcd:3.5.21-0\n    imagePullPolicy: IfNotPresent\n    livenessProbe:\n      failureThreshold: 8\n      httpGet: {host: 127.0.0.1, path: /livez, port: 2381, scheme: HTTP}\n      initialDelaySeconds: 10\n      periodSeconds: 10\n      timeoutSeconds: 15\n    name: etcd\n    resources:\n      requests: {cpu: 100m, memory: 100Mi}\n    volumeMounts:\n    - {mountPath: /var/lib/etcd, name: etcd-data}\n  hostNetwork: true\n  priority: 2000001000\n  priorityClassName: system-node-critical\n  securityContext:\n    seccompProfile: {type: RuntimeDefault}\n  volumes:\n  - hostPath: {path: /var/lib/etcd, type: DirectoryOrCreate}\n    name: etcd-data\n";
    let shown = "containers:\n- command: [etcd, --data-dir=/var/lib/etcd]\n  image: registry.k8s.io/etcd:3.5.21-0\n  imagePullPolicy: IfNotPresent\n  livenessProbe:\n    failureThreshold: 8\n    httpGet: {host: 127.0.0.1, path: /livez, port: 2381, scheme: HTTP}\n    initialDelaySeconds: 10\n    periodSeconds: 10\n    successThreshold: 1\n    timeoutSeconds: 15\n  name: etcd\n  resources:\n    requests: {cpu: 100m, memory: 100Mi}\n  terminationMessagePath: /dev/termination-log\n  terminationMessagePolicy: File\n  volumeMounts:\n  - {mountPath: /var/lib/etcd, name: etcd-data}\ndnsPolicy: ClusterFirst\nenableServiceLinks: true\nhostNetwork: true\npreemptionPolicy: PreemptLowerPriority\npriority: 2000001000\npriorityClassName: system-node-critical\nrestartPolicy: Always\nschedulerName: default-scheduler\nsecurityContext:\n  seccompProfile: {type: RuntimeDefault}\nterminationGracePeriodSeconds: 30\nvolumes:\n- hostPath: {path: /var/lib/etcd, type: DirectoryOrCreate}\n  name: etcd-data\n";
    let got = &defaulted(written)["spec"];
    let want: serde_json::Value = serde_yaml::from_str(shown).unwrap();
    assert_eq!(*got, want, "\ngot:  {got}\nwant: {want}");
    let mut p = pod(written);
    apply(&mut p);
    assert_eq!(qos_class(p.spec.as_ref().unwrap()), "Burstable");
}
