"""The official Kubernetes Python client against podfleet's API (run by tests/kube_compat.rs):
list, read, and watch with timeout_seconds, resource_version and allow_watch_bookmarks.

Usage: kube_client.py KUBECONFIG [EXPIRED_RV]. With EXPIRED_RV (a resourceVersion from
before the coordinator restarted), only checks that a watch from it gets 410 Gone. Prints one
line per check; exits non-zero on the first failure."""

import sys
import time

from kubernetes import client, config, watch

config.load_kube_config(config_file=sys.argv[1])
v1 = client.CoreV1Api()


def check(what, ok, detail=""):
    print(("ok   " if ok else "FAIL ") + what + (f": {detail}" if not ok else ""), flush=True)
    if not ok:
        sys.exit(1)



def main_checks():
    pods = v1.list_pod_for_all_namespaces()
    names = sorted(p.metadata.name for p in pods.items)
    check("list pods", {"web-n1", "web-n2", "db-n2"} <= set(names), names)
    rv = pods.metadata.resource_version
    check("list carries a resourceVersion", rv is not None and rv.isdigit(), rv)

    pod = v1.read_namespaced_pod("web-n1", "edge")
    check("read a pod", pod.spec.node_name == "n1", pod.spec.node_name)
    check("qosClass", pod.status.qos_class == "BestEffort", pod.status.qos_class)
    c = pod.spec.containers[0]
    check(
        "defaulted container",
        c.termination_message_path == "/dev/termination-log"
        and c.termination_message_policy == "File"
        and c.image_pull_policy == "Always",
        (c.termination_message_path, c.termination_message_policy, c.image_pull_policy),
    )
    check("defaulted spec", pod.spec.scheduler_name == "default-scheduler"
          and pod.spec.dns_policy == "ClusterFirst" and pod.spec.enable_service_links is True,
          (pod.spec.scheduler_name, pod.spec.dns_policy, pod.spec.enable_service_links))

    node = v1.read_node("n1")
    check("node capacity", node.status.capacity.get("pods") == "110", node.status.capacity)
    check("node allocatable", node.status.allocatable == node.status.capacity, node.status.allocatable)
    check("node info", bool(node.status.node_info.kernel_version), node.status.node_info)

    # timeout_seconds ends the watch; without a resource_version it starts with the current state.
    start = time.monotonic()
    seen = [(e["type"], e["object"].metadata.name)
            for e in watch.Watch().stream(v1.list_namespaced_pod, "edge", timeout_seconds=3)]
    took = time.monotonic() - start
    check("watch ends at timeout_seconds", 2.0 <= took < 20, f"{took:.1f}s")
    check("watch starts with the current pods",
          ("ADDED", "web-n1") in seen and ("ADDED", "web-n2") in seen, seen)
    check("each pod once", len([s for s in seen if s[1] == "web-n1"]) == 1, seen)

    # From the list's resource_version: no replay of what the list already had.
    edge = v1.list_namespaced_pod("edge")
    seen = [e["type"] for e in watch.Watch().stream(
        v1.list_namespaced_pod, "edge", resource_version=edge.metadata.resource_version,
        timeout_seconds=2)]
    check("watch from a resourceVersion replays nothing already listed", "ADDED" not in seen, seen)

    # allow_watch_bookmarks: a BOOKMARK before the watch ends, carrying a resourceVersion.
    w = watch.Watch()
    events = list(w.stream(v1.list_namespaced_pod, "edge", allow_watch_bookmarks=True,
                           resource_version=edge.metadata.resource_version, timeout_seconds=2))
    marks = [e for e in events if e["type"] == "BOOKMARK"]
    check("bookmarks", len(marks) >= 1, [e["type"] for e in events])
    mark_rv = marks[-1]["object"]["metadata"]["resourceVersion"]
    check("bookmark resourceVersion", int(mark_rv) >= int(edge.metadata.resource_version), mark_rv)



def expired_checks():
    # A resourceVersion older than the server keeps: 410 Gone (Expired), so clients relist.
    try:
        for e in watch.Watch().stream(v1.list_namespaced_pod, "edge", resource_version=sys.argv[2],
                                      timeout_seconds=2):
            if e["type"] == "ERROR":
                check("expired resourceVersion", e["raw_object"]["code"] == 410, e["raw_object"])
                break
        else:
            check("expired resourceVersion", False, "no ERROR event")
    except client.exceptions.ApiException as err:
        check("expired resourceVersion", err.status == 410, err)



if len(sys.argv) > 2:
    expired_checks()
else:
    main_checks()
print("all checks passed")
