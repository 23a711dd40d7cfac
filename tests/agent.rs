//! The on-node agent against real runtimes: host processes, and the docker engine on
//! this machine with a locally built busybox image. Each scenario runs on both.

mod common;

use std::time::Duration;

use common::BUSYBOX;
use common::agent::{AgentLab, container_id, container_status, phase, restarts};

const T: Duration = Duration::from_secs(45);

fn pod(name: &str, command: &str, extra_spec: &str, extra_container: &str) -> String {
    format!(
        "apiVersion: v1\nkind: Pod\nmetadata:\n  name: {name}\n  labels:\n    app: {name}\nspec:\n  terminationGracePeriodSeconds: 2\n{extra_spec}  containers:\n  - name: main\n    image: {BUSYBOX}\n    command: {command}\n{extra_container}"
    )
}

type Lab = AgentLab;

fn lab(runtime: &'static str, node: &str, extra: &[&str]) -> Lab {
    AgentLab::start(runtime, node, extra)
}

/// A path the container can see that the test can write: host path for processes, a
/// hostPath mount for docker.
trait Shared {
    fn shared(&self) -> (std::path::PathBuf, String, String, String);
}

impl Shared for Lab {
    fn shared(&self) -> (std::path::PathBuf, String, String, String) {
        let host = self.tmp.path().join("shared");
        std::fs::create_dir_all(&host).unwrap();
        if self.runtime == "docker" {
            let spec = format!(
                "  volumes:\n  - name: shared\n    hostPath:\n      path: {}\n",
                host.display()
            );
            let mount =
                "    volumeMounts:\n    - name: shared\n      mountPath: /shared\n".to_string();
            (host, "/shared".into(), spec, mount)
        } else {
            let p = host.display().to_string();
            (host, p, String::new(), String::new())
        }
    }
}

fn running(p: &serde_json::Value) -> bool {
    phase(p) == "Running" && container_status(p, 0)["state"]["running"].is_object()
}

fn lifecycle(runtime: &'static str, node: &str) {
    let l = lab(runtime, node, &[]);
    l.put("web.yaml", &pod("web", "[sleep, '3600']", "", ""));
    let p = l.agent.wait_pod("web", T, "running", running);
    let uid1 = p["uid"].as_str().unwrap().to_string();
    let ann = &p["mirror"]["metadata"]["annotations"];
    assert_eq!(ann["kubernetes.io/config.source"], "file");
    assert_eq!(ann["kubernetes.io/config.hash"], uid1.as_str());
    assert!(ann["kubernetes.io/config.seen"].as_str().is_some());
    assert_eq!(p["mirror"]["spec"]["nodeName"], node);
    let id1 = container_id(&p);

    // A comment-only rewrite is a no-op: same identity, same container.
    l.put(
        "web.yaml",
        &format!("# edited\n{}", pod("web", "[sleep, '3600']", "", "")),
    );
    std::thread::sleep(Duration::from_millis(1500));
    let p = l.agent.wait_pod("web", T, "still running", running);
    assert_eq!(p["uid"].as_str().unwrap(), uid1);
    assert_eq!(container_id(&p), id1);

    // A spec change replaces the whole pod.
    l.put("web.yaml", &pod("web", "[sleep, '3601']", "", ""));
    let p = l.agent.wait_pod("web", T, "replaced", |p| {
        running(p) && p["uid"].as_str() != Some(&uid1)
    });
    assert_ne!(container_id(&p), id1);
    let uid2 = p["uid"].as_str().unwrap().to_string();

    // Delete → gone; re-add identical content → runs again (kubelet #104648).
    std::fs::remove_file(l.dir.join("web.yaml")).unwrap();
    l.agent.wait_gone("web", T);
    l.put("web.yaml", &pod("web", "[sleep, '3601']", "", ""));
    let p = l.agent.wait_pod("web", T, "running after re-add", running);
    assert_eq!(
        p["uid"].as_str().unwrap(),
        uid2,
        "same content, same identity"
    );
}

fn crash_backoff(runtime: &'static str, node: &str) {
    let l = lab(runtime, node, &[]);
    l.put("crash.yaml", &pod("crash", "[sh, -c, 'exit 3']", "", ""));
    // First restart is immediate; then CrashLoopBackOff with 10 s × 0.2 = 2 s, doubling.
    let p = l.agent.wait_pod("crash", T, "first back-off", |p| {
        container_status(p, 0)["state"]["waiting"]["reason"] == "CrashLoopBackOff"
            && restarts(p) >= 1
    });
    let msg = container_status(&p, 0)["state"]["waiting"]["message"]
        .as_str()
        .unwrap()
        .to_string();
    assert!(
        msg.starts_with("back-off 2s restarting failed container=main pod=crash-"),
        "{msg}"
    );
    assert_eq!(restarts(&p), 1);
    let last = &container_status(&p, 0)["lastState"]["terminated"];
    assert_eq!(last["exitCode"], 3);
    assert_eq!(last["reason"], "Error");
    assert_eq!(
        phase(&p),
        "Running",
        "kubelet reports Running for a crash-looping Always pod"
    );
    let p = l.agent.wait_pod("crash", T, "second back-off", |p| {
        container_status(p, 0)["state"]["waiting"]["message"]
            .as_str()
            .is_some_and(|m| m.starts_with("back-off 4s"))
    });
    assert_eq!(restarts(&p), 2);
}

fn probes(runtime: &'static str, node: &str) {
    let l = lab(runtime, node, &[]);
    // Liveness always failing → the container is killed and restarted.
    let live = "    livenessProbe:\n      exec:\n        command: ['false']\n      periodSeconds: 2\n      failureThreshold: 2\n";
    l.put("live.yaml", &pod("live", "[sleep, '3600']", "", live));
    let p = l
        .agent
        .wait_pod("live", T, "restart after liveness failure", |p| {
            restarts(p) >= 1
        });
    assert!(container_status(&p, 0)["lastState"]["terminated"].is_object());

    // Readiness follows a file the test controls.
    let (host, inside, spec, mount) = l.shared();
    let ready = format!(
        "    readinessProbe:\n      exec:\n        command: [test, -f, '{inside}/ready']\n      periodSeconds: 2\n{mount}"
    );
    l.put(
        "ready.yaml",
        &pod("ready", "[sleep, '3600']", &spec, &ready),
    );
    let p = l.agent.wait_pod("ready", T, "running, not ready", running);
    assert_eq!(container_status(&p, 0)["ready"], false);
    assert_eq!(p["ready"], 0);
    std::fs::write(host.join("ready"), "").unwrap();
    let p = l.agent.wait_pod("ready", T, "ready", |p| p["ready"] == 1);
    let conds = p["mirror"]["status"]["conditions"]
        .as_array()
        .unwrap()
        .clone();
    assert!(
        conds
            .iter()
            .any(|c| c["type"] == "Ready" && c["status"] == "True"),
        "{conds:?}"
    );
    std::fs::remove_file(host.join("ready")).unwrap();
    l.agent
        .wait_pod("ready", T, "not ready again", |p| p["ready"] == 0);
    assert_eq!(
        restarts(&l.agent.wait_pod("ready", T, "", |_| true)),
        0,
        "readiness never restarts"
    );
}

fn adoption(runtime: &'static str, node: &str) {
    let mut l = lab(runtime, node, &[]);
    l.put("keep.yaml", &pod("keep", "[sleep, '3600']", "", ""));
    l.put("gone.yaml", &pod("gone", "[sleep, '3600']", "", ""));
    let before = l.agent.wait_pod("keep", T, "running", running);
    l.agent.wait_pod("gone", T, "running", running);
    l.agent.kill9();
    // While the agent is down, one manifest is deleted.
    std::fs::remove_file(l.dir.join("gone.yaml")).unwrap();
    l.agent.kill9_and_restart();
    let after = l.agent.wait_pod("keep", T, "adopted", running);
    assert_eq!(
        container_id(&after),
        container_id(&before),
        "the healthy container was adopted, not restarted"
    );
    assert_eq!(restarts(&after), 0);
    assert_eq!(after["uid"], before["uid"]);
    l.agent.wait_gone("gone", T);
}

fn bad_files(runtime: &'static str, node: &str) {
    let l = lab(runtime, node, &[]);
    l.put("good.yaml", &pod("good", "[sleep, '3600']", "", ""));
    l.put(
        "bad.yaml",
        "apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: bad}\n",
    );
    l.put("dup.yaml", &pod("good", "[sleep, '3601']", "", ""));
    // The agent may start good.yaml's pod before it sees dup.yaml; it must end on dup.yaml's.
    let p = l.agent.wait_pod("good", T, "dup.yaml's pod running", |p| {
        running(p)
            && p["terminating"] != true
            && p["file"].as_str().is_some_and(|f| f.ends_with("dup.yaml"))
    });
    let status = l.agent.try_status().unwrap();
    let issues = status["issues"].as_array().unwrap();
    assert!(
        issues.iter().any(
            |i| i["file"] == "bad.yaml" && i["message"].as_str().unwrap().contains("only Pods")
        ),
        "{issues:?}"
    );
    assert!(
        issues
            .iter()
            .any(|i| i["file"] == "good.yaml" || i["file"] == "dup.yaml"),
        "{issues:?}"
    );
    // dup.yaml sorts before good.yaml, so dup.yaml's version wins, deterministically.
    assert!(p["file"].as_str().unwrap().ends_with("dup.yaml"), "{p}");
    // A valid pod whose file turns invalid keeps running (the kubelet would kill it on re-list).
    let uid = p["uid"].clone();
    l.put(
        "dup.yaml",
        "apiVersion: v1\nkind: Pod\nmetadata: {name: good}\nspec: {containers: []}\n",
    );
    std::thread::sleep(Duration::from_secs(3));
    let p = l
        .agent
        .wait_pod("good", T, "still the last good version", running);
    assert_eq!(p["uid"], uid);
    let status = l.agent.try_status().unwrap();
    assert!(
        status["issues"]
            .as_array()
            .unwrap()
            .iter()
            .any(|i| i["file"] == "dup.yaml" && i["keeping_last_good"] == true)
    );
}

fn editor_files(runtime: &'static str, node: &str) {
    let l = lab(runtime, node, &["--manifest-extensions", "yaml,yml,json"]);
    l.put("api.yaml", &pod("api", "[sleep, '3600']", "", ""));
    std::fs::write(l.dir.join(".api.yaml.swp"), "\0binary swap").unwrap();
    std::fs::write(l.dir.join("4913"), "").unwrap();
    std::fs::write(
        l.dir.join("api.yaml.bak"),
        pod("api", "[sleep, '1']", "", ""),
    )
    .unwrap();
    std::fs::write(l.dir.join("api.yaml~"), pod("api", "[sleep, '1']", "", "")).unwrap();
    let p = l.agent.wait_pod("api", T, "running", running);
    std::thread::sleep(Duration::from_secs(3));
    let status = l.agent.try_status().unwrap();
    assert_eq!(status["issues"].as_array().unwrap().len(), 0, "{status:#}");
    assert_eq!(status["pods"].as_array().unwrap().len(), 1);
    assert!(p["file"].as_str().unwrap().ends_with("/api.yaml"));
}

macro_rules! matrix {
    ($($name:ident),*) => {
        mod process {
            $(#[test] fn $name() { super::$name("process", concat!("proc-", stringify!($name)).replace('_', "-").as_str()); })*
        }
        mod docker {
            $(#[test] fn $name() { super::$name("docker", concat!("dock-", stringify!($name)).replace('_', "-").as_str()); })*
        }
    };
}

matrix!(
    lifecycle,
    crash_backoff,
    probes,
    adoption,
    bad_files,
    editor_files
);

#[test]
fn docker_pod_shares_a_network_namespace_and_reads_like_a_kubelet_node() {
    let l = lab("docker", "dock-netns", &[]);
    let spec = "  - name: web\n    image: IMG\n    command: [sh, -c, 'echo ok > /tmp/index.html; exec httpd -f -p 8080 -h /tmp']\n".replace("IMG", BUSYBOX);
    let checker = format!(
        "    readinessProbe:\n      exec:\n        command: [wget, -q, -O, /dev/null, 'http://127.0.0.1:8080/']\n      periodSeconds: 2\n{spec}"
    );
    l.put("net.yaml", &pod("net", "[sleep, '3600']", "", &checker));
    let p = l
        .agent
        .wait_pod("net", T, "checker ready via localhost", |p| {
            p["ready"] == 2 || container_status(p, 0)["ready"] == true
        });
    let uid = p["uid"].as_str().unwrap();
    let out = std::process::Command::new("docker")
        .args(["ps", "--format", "{{.Names}}"])
        .output()
        .unwrap();
    let names = String::from_utf8_lossy(&out.stdout);
    assert!(
        names
            .lines()
            .any(|n| n == format!("k8s_main_net-dock-netns_default_{uid}_0")),
        "{names}"
    );
    assert!(
        names
            .lines()
            .any(|n| n == format!("k8s_POD_net-dock-netns_default_{uid}_0")),
        "{names}"
    );
    assert!(
        p["mirror"]["status"]["podIP"]
            .as_str()
            .is_some_and(|ip| ip != "127.0.0.1")
    );
    std::fs::remove_file(l.dir.join("net.yaml")).unwrap();
    l.agent.wait_gone("net", T);
    let out = std::process::Command::new("docker")
        .args(["ps", "-a", "--format", "{{.Names}}"])
        .output()
        .unwrap();
    assert!(
        !String::from_utf8_lossy(&out.stdout).contains(uid),
        "containers removed"
    );
}

#[test]
fn docker_missing_image_backs_off() {
    let l = lab("docker", "dock-pull", &[]);
    let c = "    imagePullPolicy: IfNotPresent\n";
    l.put(
        "pull.yaml",
        &pod("pull", "[sleep, '1']", "", c).replace(BUSYBOX, "podfleet-test/nope:1"),
    );
    let p = l.agent.wait_pod("pull", T, "image pull failure", |p| {
        matches!(
            container_status(p, 0)["state"]["waiting"]["reason"].as_str(),
            Some("ErrImagePull") | Some("ImagePullBackOff")
        )
    });
    assert_eq!(phase(&p), "Pending");
    l.agent.wait_pod("pull", T, "ImagePullBackOff", |p| {
        container_status(p, 0)["state"]["waiting"]["reason"] == "ImagePullBackOff"
    });
}

#[test]
fn docker_maps_host_network_limits_env_and_volumes() {
    let l = lab("docker", "dock-map", &[]);
    let extra_spec = "  hostNetwork: true\n  volumes:\n  - name: scratch\n    emptyDir: {}\n";
    let extra_container = "    env:\n    - name: GREETING\n      value: hello\n    workingDir: /tmp\n    resources:\n      limits:\n        memory: 64Mi\n        cpu: 250m\n    volumeMounts:\n    - name: scratch\n      mountPath: /scratch\n";
    l.put(
        "map.yaml",
        &pod("map", "[sleep, '3600']", extra_spec, extra_container),
    );
    let p = l.agent.wait_pod("map", T, "running", running);
    let uid = p["uid"].as_str().unwrap();
    let inspect_of = |container: &str, fmt: &str| {
        let out = std::process::Command::new("docker")
            .args(["inspect", "--format", fmt])
            .arg(format!("k8s_{container}_map-dock-map_default_{uid}_0"))
            .output()
            .unwrap();
        String::from_utf8_lossy(&out.stdout).trim().to_string()
    };
    let inspect = |fmt: &str| inspect_of("main", fmt);
    // As with dockershim: the sandbox holds the host network, the app joins the sandbox.
    assert_eq!(inspect_of("POD", "{{.HostConfig.NetworkMode}}"), "host");
    assert!(inspect("{{.HostConfig.NetworkMode}}").starts_with("container:"));
    assert_eq!(inspect("{{.HostConfig.Memory}}"), "67108864");
    assert_eq!(inspect("{{.HostConfig.NanoCpus}}"), "250000000");
    assert_eq!(inspect("{{.Config.WorkingDir}}"), "/tmp");
    assert!(inspect("{{.Config.Env}}").contains("GREETING=hello"));
    assert!(inspect("{{json .Mounts}}").contains("/scratch"));
    // hostNetwork pods report the node's IP, as the kubelet does.
    assert_eq!(p["mirror"]["status"]["podIP"], "127.0.0.1");
}
