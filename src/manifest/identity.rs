//! Hashes that identify manifests and pods.
//!
//! * `content_sha256`: the file's bytes. Decides whether a push must rewrite a file
//!   (an identical rewrite would make the kubelet see an event for nothing).
//! * `canonical_hash`: the manifest's *meaning*: the parsed value with a small, fixed set
//!   of API defaults filled in, serialised with sorted keys. Comments, key order, quoting
//!   and an explicit `restartPolicy: Always` do not change it. Because it hashes the
//!   document rather than an in-memory struct, upgrading podfleet does not change pod
//!   identities (kubelet issue #116080: static pods restart on kubelet upgrades).
//! * `pod_uid`: the pod's identity on a node, like the kubelet's `config.hash`: the
//!   canonical hash plus node name and file path.

use serde_json::{Map, Value};
use sha2::{Digest, Sha256};

/// Lowercase hex SHA-256 of the bytes.
pub fn content_sha256(bytes: &[u8]) -> String {
    hex::encode(Sha256::digest(bytes))
}

/// The canonical hash of a manifest value (see module docs).
pub fn canonical_hash(value: &Value) -> String {
    let mut v = value.clone();
    apply_defaults(&mut v);
    content_sha256(canonical_json(&v).as_bytes())
}

/// The pod identity on `node` for a manifest at `path`: 32 hex characters, like the kubelet's UID.
pub fn pod_uid(canonical_hash: &str, node: &str, path: &str) -> String {
    let mut h = Sha256::new();
    h.update(canonical_hash.as_bytes());
    h.update(b"host:");
    h.update(node.as_bytes());
    h.update(b"file:");
    h.update(path.as_bytes());
    hex::encode(&h.finalize()[..16])
}

/// JSON with object keys sorted at every level and no whitespace.
pub fn canonical_json(v: &Value) -> String {
    let mut out = String::new();
    write_canonical(v, &mut out);
    out
}

fn write_canonical(v: &Value, out: &mut String) {
    match v {
        Value::Object(m) => {
            let mut keys: Vec<&String> = m.keys().collect();
            keys.sort();
            out.push('{');
            for (i, k) in keys.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                out.push_str(&Value::String((*k).clone()).to_string());
                out.push(':');
                write_canonical(&m[*k], out);
            }
            out.push('}');
        }
        Value::Array(a) => {
            out.push('[');
            for (i, x) in a.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                write_canonical(x, out);
            }
            out.push(']');
        }
        other => out.push_str(&other.to_string()),
    }
}

/// The API defaults the kubelet applies before hashing that matter for identity.
/// Changing this list changes every pod's identity: treat it as a versioned format.
fn apply_defaults(v: &mut Value) {
    let Some(obj) = v.as_object_mut() else { return };
    let meta = obj
        .entry("metadata")
        .or_insert_with(|| Value::Object(Map::new()));
    if let Some(m) = meta.as_object_mut() {
        default(m, "namespace", Value::from("default"));
        // Explicit empty values mean the same as absent ones.
        m.retain(|_, v| !v.is_null());
    }
    let Some(spec) = obj.get_mut("spec").and_then(Value::as_object_mut) else {
        return;
    };
    default(spec, "restartPolicy", Value::from("Always"));
    default(spec, "terminationGracePeriodSeconds", Value::from(30));
    default(spec, "dnsPolicy", Value::from("ClusterFirst"));
    for field in ["initContainers", "containers"] {
        let Some(list) = spec.get_mut(field).and_then(Value::as_array_mut) else {
            continue;
        };
        for c in list.iter_mut().filter_map(Value::as_object_mut) {
            let image = c
                .get("image")
                .and_then(Value::as_str)
                .unwrap_or("")
                .to_string();
            default(
                c,
                "imagePullPolicy",
                Value::from(default_pull_policy(&image)),
            );
            default(
                c,
                "terminationMessagePath",
                Value::from("/dev/termination-log"),
            );
            default(c, "terminationMessagePolicy", Value::from("File"));
            if let Some(ports) = c.get_mut("ports").and_then(Value::as_array_mut) {
                for p in ports.iter_mut().filter_map(Value::as_object_mut) {
                    default(p, "protocol", Value::from("TCP"));
                }
            }
        }
    }
}

fn default(m: &mut Map<String, Value>, key: &str, value: Value) {
    match m.get(key) {
        Some(v) if !v.is_null() && v != &Value::from("") => {}
        _ => {
            m.insert(key.to_string(), value);
        }
    }
}

/// A stable UID-shaped id for an object podfleet synthesizes (a Node, the mirror pods' owner
/// reference; `namespace/<name>`, `event/<name>` for others), the same on every coordinator.
pub fn object_uid(name: &str) -> String {
    let h = content_sha256(format!("node:{name}").as_bytes());
    format!(
        "{}-{}-{}-{}-{}",
        &h[0..8],
        &h[8..12],
        &h[12..16],
        &h[16..20],
        &h[20..32]
    )
}

/// Kubernetes' default `imagePullPolicy`: `Always` for `:latest` or untagged images, else `IfNotPresent`.
pub fn default_pull_policy(image: &str) -> &'static str {
    if image.contains('@') {
        return "IfNotPresent";
    }
    let last = image.rsplit('/').next().unwrap_or(image);
    match last.split_once(':') {
        None => "Always",
        Some((_, "latest")) => "Always",
        Some(_) => "IfNotPresent",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn canonical_hash_ignores_key_order_format_and_explicit_defaults() {
        let a: Value = serde_json::json!({"apiVersion":"v1","kind":"Pod","metadata":{"name":"a"},
            "spec":{"containers":[{"name":"c","image":"x:1"}]}});
        let b: Value = serde_json::json!({"kind":"Pod","spec":{"restartPolicy":"Always",
            "containers":[{"image":"x:1","name":"c","imagePullPolicy":"IfNotPresent"}]},
            "metadata":{"namespace":"default","name":"a"},"apiVersion":"v1"});
        assert_eq!(canonical_hash(&a), canonical_hash(&b));
        let c: Value = serde_json::json!({"apiVersion":"v1","kind":"Pod","metadata":{"name":"a"},
            "spec":{"containers":[{"name":"c","image":"x:2"}]}});
        assert_ne!(canonical_hash(&a), canonical_hash(&c));
    }

    #[test]
    fn uid_depends_on_node_and_path() {
        let h = "abc";
        assert_ne!(pod_uid(h, "n1", "/m/a.yaml"), pod_uid(h, "n2", "/m/a.yaml"));
        assert_ne!(pod_uid(h, "n1", "/m/a.yaml"), pod_uid(h, "n1", "/m/b.yaml"));
        assert_eq!(pod_uid(h, "n1", "/m/a.yaml").len(), 32);
    }

    #[test]
    fn pull_policy_defaults() {
        assert_eq!(default_pull_policy("busybox"), "Always");
        assert_eq!(default_pull_policy("busybox:latest"), "Always");
        assert_eq!(default_pull_policy("registry:5000/busybox"), "Always");
        assert_eq!(
            default_pull_policy("registry:5000/busybox:1.36"),
            "IfNotPresent"
        );
        assert_eq!(default_pull_policy("busybox@sha256:abc"), "IfNotPresent");
    }
}
