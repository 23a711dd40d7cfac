//! The read-only Kubernetes API, driven by the real `kubectl` against a coordinator fed by
//! real agents (process runtime) reporting over mutual TLS.

mod common;

use std::process::Command;

use common::kubelab::{lab, pod};
use common::{podfleet, write_atomic};

#[test]
fn kubectl_reads_the_fleet() {
    let lab = lab();
    let out = lab.get(&["get", "pods", "-A"]);
    let header: Vec<&str> = out.lines().next().unwrap().split_whitespace().collect();
    assert_eq!(
        header,
        ["NAMESPACE", "NAME", "READY", "STATUS", "RESTARTS", "AGE"],
        "{out}"
    );
    for (ns, name) in [("edge", "web-n1"), ("edge", "web-n2"), ("data", "db-n2")] {
        let line = out
            .lines()
            .find(|l| l.contains(name))
            .unwrap_or_else(|| panic!("{out}"));
        let cells: Vec<&str> = line.split_whitespace().collect();
        assert_eq!(&cells[..5], [ns, name, "1/1", "Running", "0"], "{out}");
    }

    let wide = lab.get(&["get", "pods", "-A", "-o", "wide"]);
    assert!(wide.lines().next().unwrap().contains("NODE"), "{wide}");
    let line = wide.lines().find(|l| l.contains("db-n2")).unwrap();
    assert!(line.split_whitespace().any(|c| c == "n2"), "{wide}");

    // One pod as YAML round-trips as a valid Pod, with the kubelet's mirror annotations.
    let yaml = lab.get(&["get", "pod", "web-n1", "-n", "edge", "-o", "yaml"]);
    let pod: k8s_openapi::api::core::v1::Pod = serde_yaml::from_str(&yaml).unwrap();
    let ann = pod.metadata.annotations.clone().unwrap();
    assert_eq!(ann["kubernetes.io/config.source"], "file");
    assert!(ann.contains_key("kubernetes.io/config.mirror"));
    assert!(ann.contains_key("kubernetes.io/config.hash"));
    assert!(ann.contains_key("kubernetes.io/config.seen"));
    assert_eq!(pod.spec.unwrap().node_name.as_deref(), Some("n1"));
    assert_eq!(pod.metadata.owner_references.unwrap()[0].kind, "Node");

    let nodes = lab.get(&["get", "nodes"]);
    for n in ["n1", "n2"] {
        let line = nodes
            .lines()
            .find(|l| l.starts_with(n))
            .unwrap_or_else(|| panic!("{nodes}"));
        assert!(
            line.contains("Ready") && line.contains("podfleet-"),
            "{nodes}"
        );
    }
    let ns = lab.get(&["get", "namespaces"]);
    assert!(
        ns.contains("edge") && ns.contains("data") && ns.contains("Active"),
        "{ns}"
    );

    let described = lab.get(&["describe", "pod", "web-n2", "-n", "edge"]);
    assert!(
        described.contains("Node:") && described.contains("n2"),
        "{described}"
    );
    let events = described.split("Events:").nth(1).unwrap_or_default();
    assert!(
        events.contains("Started") && events.contains("kubelet"),
        "{described}"
    );

    let by_label = lab.get(&["get", "pods", "-A", "-l", "app=db"]);
    assert!(
        by_label.contains("db-n2") && !by_label.contains("web-"),
        "{by_label}"
    );
    let by_node = lab.get(&["get", "pods", "-A", "--field-selector", "spec.nodeName=n1"]);
    assert!(
        by_node.contains("web-n1") && !by_node.contains("-n2"),
        "{by_node}"
    );

    // --sort-by outside metadata: kubectl asks for includeObject=Object and sorts the full
    // objects the Table rows carry.
    let sorted = lab.get(&["get", "pods", "-A", "--sort-by=.spec.nodeName"]);
    let names: Vec<&str> = sorted
        .lines()
        .skip(1)
        .filter_map(|l| l.split_whitespace().nth(1))
        .collect();
    assert_eq!(names.len(), 3, "{sorted}");
    assert_eq!(names[0], "web-n1", "{sorted}");
    let by_time = lab.get(&["get", "events", "-n", "edge", "--sort-by=.lastTimestamp"]);
    assert!(
        by_time
            .lines()
            .next()
            .unwrap_or_default()
            .contains("LAST SEEN")
            && by_time.contains("pod/web-n1")
            && by_time.contains("Started"),
        "{by_time}"
    );

    // Bad selectors are the API server's 400, and kubectl fails with its message.
    for (args, message) in [
        (
            ["-l", "bad label=="],
            "unable to parse requirement: found 'label', expected: in, notin, =, ==, !=, gt, lt",
        ),
        (
            ["--field-selector", "spec.nodename=n1"],
            "field label not supported: spec.nodename",
        ),
    ] {
        let bad = lab.kubectl("fleet.kubeconfig", &["get", "pods", "-A", args[0], args[1]]);
        assert_eq!(bad.code, 1, "{args:?}: {}{}", bad.stdout, bad.stderr);
        assert!(
            bad.stderr.contains("Error from server (BadRequest)") && bad.stderr.contains(message),
            "{args:?}: {}",
            bad.stderr
        );
        assert!(!bad.stdout.contains("No resources"), "{}", bad.stdout);
    }

    // Mutations are refused with the reason.
    let del = lab.kubectl(
        "fleet.kubeconfig",
        &["delete", "pod", "web-n1", "-n", "edge"],
    );
    assert_ne!(del.code, 0);
    assert!(
        del.stderr.contains("MethodNotAllowed") && del.stderr.contains("podfleet push"),
        "{}",
        del.stderr
    );
    assert!(lab.get(&["get", "pods", "-A"]).contains("web-n1"));

    // No credentials: refused (curl: kubectl would prompt for a user name), and a wrong
    // token too. The bearer token from `kubeconfig --token` works.
    let ca = lab.path().join("state/pki/ca.crt");
    let server = std::fs::read_to_string(lab.path().join("state/kube-addr")).unwrap();
    let anon = Command::new("curl")
        .args(["-sS", "--cacert", ca.to_str().unwrap()])
        .arg(format!("https://{}/api/v1/pods", server.trim()))
        .output()
        .expect("curl is installed");
    let body = String::from_utf8_lossy(&anon.stdout);
    assert!(
        body.contains("\"code\":401") && body.contains("Unauthorized"),
        "{body}"
    );
    let tok = podfleet(
        lab.path(),
        &["--state-dir", "state", "kubeconfig", "--token"],
        &[],
    )
    .expect(0);
    std::fs::write(lab.path().join("token.kubeconfig"), &tok.stdout).unwrap();
    let token_line = tok.stdout.lines().find(|l| l.contains("token:")).unwrap();
    let wrong = tok.stdout.replace(token_line, "    token: wrong");
    std::fs::write(lab.path().join("wrong.kubeconfig"), wrong).unwrap();
    let refused = lab.kubectl("wrong.kubeconfig", &["get", "pods", "-A"]);
    assert_ne!(refused.code, 0);
    assert!(
        refused.stderr.contains("Unauthorized"),
        "{}",
        refused.stderr
    );
    let with_token = lab
        .kubectl("token.kubeconfig", &["get", "pods", "-A"])
        .expect(0);
    assert!(with_token.stdout.contains("db-n2"));
    // The token reads; exec needs the admin certificate, and can-i says so.
    let me = lab
        .kubectl("token.kubeconfig", &["auth", "whoami"])
        .expect(0);
    assert!(me.stdout.contains("podfleet:token"), "{}", me.stdout);
    let exec = lab.kubectl(
        "token.kubeconfig",
        &["auth", "can-i", "create", "pods/exec", "-n", "edge"],
    );
    assert_eq!(exec.code, 1, "{}{}", exec.stdout, exec.stderr);
    assert!(exec.stdout.contains("no"), "{}", exec.stdout);
}

#[test]
fn kubectl_watch_follows_a_manifest_change() {
    let lab = lab();
    let mut watch = lab.follow(&[
        "get",
        "pods",
        "-n",
        "edge",
        "--watch",
        "--output-watch-events",
    ]);
    let web_n1 =
        |l: &String, ev: &str| l.starts_with(ev) && l.split_whitespace().nth(1) == Some("web-n1");
    let initial = watch.wait(60, "the initial web-n1 and web-n2", &|s| {
        s.iter().any(|l| web_n1(l, "ADDED")) && s.iter().any(|l| l.contains("web-n2"))
    });
    // Change the manifest on n1: the agent replaces the pod; the watch sees the old one go
    // and the new one come.
    write_atomic(
        &lab.node_dir("n1").join("web.yaml"),
        &pod("web", "edge", "web", 7200),
    );
    watch.wait(60, "web-n1 deleted and added again", &|s| {
        let after = &s[initial..];
        after.iter().any(|l| web_n1(l, "DELETED")) && after.iter().any(|l| web_n1(l, "ADDED"))
    });
    // web-n2 did not change: nothing about it after the initial list.
    assert!(
        !watch.seen[initial..].iter().any(|l| l.contains("web-n2")),
        "{:#?}",
        watch.seen
    );
}

/// A node's (agent's) certificate is for that node: it reads its own Node and the pods bound
/// to it, as the Kubernetes Node authorizer lets a kubelet, and gets 403 for anything else.
#[test]
fn a_node_certificate_reads_only_its_own_node() {
    let lab = lab();
    let pki = lab.path().join("pki/n1");
    // As the node: GET `path`, or POST `body` (JSON) to it; the status and the body.
    let request = |path: &str, body: Option<&str>| -> (u16, String) {
        let mut c = Command::new("curl");
        c.args(["-s", "-w", "\n%{http_code}", "--cacert"])
            .arg(pki.join("ca.crt"))
            .arg("--cert")
            .arg(pki.join("node.crt"))
            .arg("--key")
            .arg(pki.join("node.key"));
        if let Some(b) = body {
            c.args([
                "-X",
                "POST",
                "-H",
                "Content-Type: application/json",
                "-d",
                b,
            ]);
        }
        let out = c
            .arg(format!("https://{}{path}", lab.kube))
            .output()
            .unwrap();
        let text = String::from_utf8_lossy(&out.stdout).to_string();
        let (body, code) = text.rsplit_once('\n').unwrap();
        (code.parse().unwrap(), body.to_string())
    };
    let curl = |path: &str| request(path, None);
    for forbidden in [
        "/api/v1/pods",
        "/api/v1/namespaces/edge/pods",
        "/api/v1/pods?fieldSelector=spec.nodeName%3Dn2",
        "/api/v1/nodes",
        "/api/v1/nodes/n2",
        "/api/v1/events",
        "/api/v1/namespaces",
        "/api/v1/namespaces/edge/pods/web-n2",
    ] {
        let (code, body) = curl(forbidden);
        assert_eq!(code, 403, "{forbidden}: {body}");
        assert!(body.contains("\"reason\":\"Forbidden\""), "{body}");
        assert!(body.contains("system:node:n1"), "{body}");
    }
    let (code, body) = curl("/api/v1/pods?fieldSelector=spec.nodeName%3Dn1");
    assert_eq!(code, 200, "{body}");
    assert!(
        body.contains("web-n1") && !body.contains("web-n2"),
        "{body}"
    );
    let (code, body) = curl("/api/v1/namespaces/edge/pods/web-n1");
    assert_eq!(code, 200, "{body}");
    let (code, body) = curl("/api/v1/nodes/n1");
    assert_eq!(code, 200, "{body}");
    let (code, _) = curl("/version");
    assert_eq!(code, 200);
    let (code, _) = curl("/metrics");
    assert_eq!(code, 403, "fleet-wide metrics are not a node's");
    // Who am I, and may I: as the Node authorizer answers a kubelet.
    let post = |path: &str, body: &str| request(path, Some(body)).1;
    let me = post(
        "/apis/authentication.k8s.io/v1/selfsubjectreviews",
        r#"{"apiVersion":"authentication.k8s.io/v1","kind":"SelfSubjectReview"}"#,
    );
    assert!(me.contains("\"username\":\"system:node:n1\""), "{me}");
    let may = |name: &str| {
        post(
            "/apis/authorization.k8s.io/v1/selfsubjectaccessreviews",
            &format!(
                r#"{{"kind":"SelfSubjectAccessReview","apiVersion":"authorization.k8s.io/v1","spec":{{"resourceAttributes":{{"verb":"get","resource":"nodes","name":"{name}"}}}}}}"#
            ),
        )
    };
    assert!(may("n1").contains("\"allowed\":true"), "{}", may("n1"));
    assert!(may("n2").contains("\"allowed\":false"), "{}", may("n2"));
    // The admin kubeconfig still reads everything.
    let out = lab.get(&["get", "pods", "-A"]);
    assert!(out.contains("web-n2") && out.contains("db-n2"), "{out}");
}

/// A client that opens TCP and never starts TLS is dropped after the handshake timeout
/// (10 s) instead of holding a task for ever; the API keeps serving meanwhile.
#[test]
fn a_silent_client_is_dropped() {
    use std::io::Read;
    let lab = lab();
    let mut silent = std::net::TcpStream::connect(&lab.kube).unwrap();
    silent
        .set_read_timeout(Some(std::time::Duration::from_secs(60)))
        .unwrap();
    let started = std::time::Instant::now();
    assert!(lab.get(&["get", "nodes"]).contains("n1"));
    let mut buf = [0u8; 16];
    let n = silent.read(&mut buf);
    let waited = started.elapsed();
    assert!(
        waited < std::time::Duration::from_secs(55),
        "still open after {waited:?}"
    );
    assert!(
        matches!(n, Ok(0))
            || matches!(&n, Err(e) if e.kind() == std::io::ErrorKind::ConnectionReset),
        "{n:?}"
    );
}
