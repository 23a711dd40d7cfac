"""The official Python client reads pod logs through podfleet's coordinator.

Usage: python3 kube_logs.py KUBECONFIG NAMESPACE POD
"""
import sys

from kubernetes import client, config

config.load_kube_config(config_file=sys.argv[1])
v1 = client.CoreV1Api()
ns, pod = sys.argv[2], sys.argv[3]

text = v1.read_namespaced_pod_log(pod, ns, tail_lines=2)
assert len(text.splitlines()) == 2, repr(text)

# follow=True streams: read until three more lines arrived.
resp = v1.read_namespaced_pod_log(
    pod, ns, follow=True, tail_lines=1, _preload_content=False
)
seen = 0
for chunk in resp.stream(amt=1024):
    seen += chunk.count(b"\n")
    if seen >= 4:
        break
resp.release_conn()
assert seen >= 4, seen

try:
    v1.read_namespaced_pod_log("nosuch", ns)
    raise SystemExit("expected a 404")
except client.exceptions.ApiException as e:
    assert e.status == 404, e.status
print("python client ok")
