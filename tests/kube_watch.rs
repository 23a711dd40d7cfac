//! Watches on the read-only Kubernetes API as clients use them: raw HTTP (curl with the
//! bearer token) for the protocol (timeoutSeconds, resourceVersion, 410 Expired,
//! bookmarks), and the real `kubectl --watch` for nodes, namespaces and events.

mod common;

use std::time::Duration;

use common::kubelab::{Lab, lab, pod};
use common::{wait_for, write, write_atomic};
use serde_json::Value;

/// The events of a finished watch response.
fn events(body: &str) -> Vec<Value> {
    body.lines()
        .filter(|l| !l.trim().is_empty())
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{e}: {l}")))
        .collect()
}

fn summary(events: &[Value]) -> Vec<(String, String)> {
    events
        .iter()
        .map(|e| {
            (
                e["type"].as_str().unwrap_or_default().to_string(),
                e["object"]["metadata"]["name"]
                    .as_str()
                    .unwrap_or_default()
                    .to_string(),
            )
        })
        .collect()
}

/// A watch that ends by itself: curl's own limit (120s) is only a backstop.
fn finished_watch(lab: &Lab, path: &str) -> Vec<Value> {
    let (code, body, exit) = lab.curl(path, 120);
    assert_eq!(
        (code, exit),
        (200, 0),
        "{path}: the watch did not end: {body}"
    );
    events(&body)
}

fn uid(lab: &Lab, name: &str) -> String {
    lab.kubectl(
        "fleet.kubeconfig",
        &[
            "get",
            "pod",
            name,
            "-n",
            "edge",
            "-o",
            "jsonpath={.metadata.uid}",
        ],
    )
    .stdout
    .trim()
    .to_string()
}

/// Each pod's name and resourceVersion.
fn pod_versions(lab: &Lab) -> String {
    lab.get(&[
        "get",
        "pods",
        "-A",
        "-o",
        "jsonpath={range .items[*]}{.metadata.name}={.metadata.resourceVersion} {end}",
    ])
}

/// Each node's last heartbeat.
fn heartbeats(lab: &Lab) -> Vec<String> {
    let out = lab.kubectl(
        "fleet.kubeconfig",
        &[
            "get",
            "nodes",
            "-o",
            "jsonpath={range .items[*]}{.status.conditions[0].lastHeartbeatTime} {end}",
        ],
    );
    out.stdout.split_whitespace().map(str::to_string).collect()
}

#[test]
fn watches_end_on_time_start_from_now_and_resume_or_expire() {
    let mut lab = lab();

    // timeoutSeconds ends the watch; without a resourceVersion it starts with the current
    // state (each pod once, as it is now), not the history of every status it went through.
    let now = finished_watch(
        &lab,
        "/api/v1/namespaces/edge/pods?watch=true&timeoutSeconds=2",
    );
    let mut seen = summary(&now);
    seen.sort();
    assert_eq!(
        seen,
        [
            ("ADDED".to_string(), "web-n1".to_string()),
            ("ADDED".into(), "web-n2".into())
        ],
        "{now:#?}"
    );
    assert!(
        now.iter()
            .all(|e| e["object"]["status"]["phase"] == "Running"),
        "{now:#?}"
    );
    let zero = finished_watch(
        &lab,
        "/api/v1/namespaces/data/pods?watch=true&timeoutSeconds=1&resourceVersion=0",
    );
    assert_eq!(summary(&zero), [("ADDED".into(), "db-n2".into())]);

    // Bookmarks when asked for: the last event says how far the watch got.
    let (_, list, _) = lab.curl("/api/v1/pods", 60);
    let list: Value = serde_json::from_str(&list).unwrap();
    let list_rv: u64 = list["metadata"]["resourceVersion"]
        .as_str()
        .unwrap()
        .parse()
        .unwrap();
    let marked = finished_watch(
        &lab,
        &format!(
            "/api/v1/pods?watch=true&timeoutSeconds=1&allowWatchBookmarks=true&resourceVersion={list_rv}"
        ),
    );
    let last = marked.last().expect("a bookmark");
    assert_eq!(last["type"], "BOOKMARK", "{marked:#?}");
    assert_eq!(last["object"]["kind"], "Pod");
    let mark: u64 = last["object"]["metadata"]["resourceVersion"]
        .as_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!(mark >= list_rv, "{mark} < {list_rv}");
    let plain = finished_watch(
        &lab,
        &format!("/api/v1/pods?watch=true&timeoutSeconds=1&resourceVersion={list_rv}"),
    );
    assert!(plain.iter().all(|e| e["type"] != "BOOKMARK"), "{plain:#?}");

    // From a list's resourceVersion: exactly what changed since (the replaced web-n1), not
    // the pods that did not change.
    let old = uid(&lab, "web-n1");
    write_atomic(
        &lab.node_dir("n1").join("web.yaml"),
        &pod("web", "edge", "web", 7200),
    );
    wait_for(Duration::from_secs(60), "the new web-n1 running", || {
        let out = lab.kubectl(
            "fleet.kubeconfig",
            &["get", "pod", "web-n1", "-n", "edge", "--no-headers"],
        );
        (uid(&lab, "web-n1") != old && out.stdout.contains("Running")).then_some(())
    });
    let since = finished_watch(
        &lab,
        &format!("/api/v1/pods?watch=true&timeoutSeconds=2&resourceVersion={list_rv}"),
    );
    let names = summary(&since);
    assert!(
        names.iter().all(|(_, n)| n == "web-n1"),
        "only web-n1 changed: {names:?}"
    );
    let uid_of = |e: &Value| e["object"]["metadata"]["uid"].as_str().unwrap().to_string();
    assert!(
        since
            .iter()
            .any(|e| e["type"] == "DELETED" && uid_of(e) == old),
        "{names:?}"
    );
    assert!(
        since
            .iter()
            .any(|e| e["type"] == "ADDED" && uid_of(e) != old),
        "{names:?}"
    );
    // A resourceVersion from before the coordinator's history (it restarted): 410
    // Expired, so clients relist; kube-apiserver sends it as the watch's only event.
    let before = pod_versions(&lab);
    let beats = heartbeats(&lab);
    lab.restart_coordinator();
    // The agents reconnect and send full snapshots: unchanged pods keep their
    // resourceVersions (no MODIFIED for them).
    wait_for(
        Duration::from_secs(60),
        "both agents reporting again",
        || {
            let now = heartbeats(&lab);
            (now.len() == 2 && now.iter().zip(&beats).all(|(a, b)| a != b)).then_some(())
        },
    );
    assert_eq!(pod_versions(&lab), before);
    let gone = finished_watch(
        &lab,
        &format!("/api/v1/pods?watch=true&resourceVersion={list_rv}"),
    );
    assert_eq!(gone.len(), 1, "{gone:#?}");
    assert_eq!(gone[0]["type"], "ERROR");
    assert_eq!(gone[0]["object"]["kind"], "Status");
    assert_eq!(gone[0]["object"]["code"], 410);
    assert_eq!(gone[0]["object"]["reason"], "Expired");
    let message = gone[0]["object"]["message"].as_str().unwrap();
    assert!(
        message.starts_with(&format!("too old resource version: {list_rv} (")),
        "{message}"
    );
    // The relist's resourceVersion is good again.
    let (_, list, _) = lab.curl("/api/v1/pods", 60);
    let list: Value = serde_json::from_str(&list).unwrap();
    let rv = list["metadata"]["resourceVersion"].as_str().unwrap();
    let again = finished_watch(
        &lab,
        &format!("/api/v1/pods?watch=true&timeoutSeconds=1&resourceVersion={rv}"),
    );
    assert!(again.iter().all(|e| e["type"] != "ERROR"), "{again:#?}");
}

/// Nodes, namespaces and events are rebuilt from reports: their watches still deliver what
/// changes after the initial list.
#[test]
fn kubectl_watches_nodes_namespaces_and_events() {
    let lab = lab();
    let mut nodes = lab.follow(&["get", "nodes", "--watch", "--output-watch-events"]);
    let mut namespaces = lab.follow(&["get", "namespaces", "--watch", "--output-watch-events"]);
    let mut events = lab.follow(&["get", "events", "-A", "--watch", "--output-watch-events"]);
    let node_line =
        |l: &String, ev: &str, n: &str| l.starts_with(ev) && l.split_whitespace().nth(1) == Some(n);
    let listed = nodes.wait(60, "both nodes", &|s| {
        s.iter().any(|l| node_line(l, "ADDED", "n1"))
            && s.iter().any(|l| node_line(l, "ADDED", "n2"))
    });
    let ns_listed = namespaces.wait(60, "edge and data", &|s| {
        s.iter().any(|l| l.contains("edge")) && s.iter().any(|l| l.contains("data"))
    });
    let ev_listed = events.wait(60, "the pods' events", &|s| {
        s.iter().any(|l| l.contains("pod/web-n1"))
    });
    // Heartbeats (every second in the lab) are node status updates.
    nodes.wait(60, "n1's heartbeat as MODIFIED", &|s| {
        s[listed..].iter().any(|l| node_line(l, "MODIFIED", "n1"))
    });
    // A pod in a new namespace: the namespace appears, and so do the pod's events.
    write(
        &lab.node_dir("n1").join("job.yaml"),
        &pod("job", "batch", "job", 3600),
    );
    namespaces.wait(60, "the new namespace batch", &|s| {
        s[ns_listed..]
            .iter()
            .any(|l| l.starts_with("ADDED") && l.split_whitespace().nth(1) == Some("batch"))
    });
    events.wait(60, "job-n1's events", &|s| {
        s[ev_listed..]
            .iter()
            .any(|l| l.contains("batch") && l.contains("pod/job-n1"))
    });
}
