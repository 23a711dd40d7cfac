//! Static pod manifests: parse, validate and identify one rendered Pod file.
//!
//! `check` is a pure function from bytes to either a [`ValidPod`] or every problem found,
//! each as `file:line: reason`. The rules follow what the kubelet accepts for a static pod
//! (the README's "Validation" section lists them), plus checks the kubelet does not do but users
//! trip over: unknown (typo'd) fields, multi-document files, YAML 1.1 surprises.

pub mod defaults;
mod diagnostic;
pub mod guard;
pub mod identity;
pub mod locate;
mod rules;
mod yaml11;

use k8s_openapi::api::core::v1::Pod;
use serde::Deserialize;

pub use diagnostic::Diagnostic;
pub use identity::{canonical_hash, content_sha256, pod_uid};
use locate::{FieldPath, LineIndex, Seg};

/// The kubelet refuses manifests larger than this (`maxConfigLength`).
pub const MAX_MANIFEST_BYTES: usize = 10 * 1024 * 1024;

/// A manifest that passed every check.
#[derive(Debug, Clone)]
pub struct ValidPod {
    /// The typed Pod, exactly as written (no defaults applied).
    pub pod: Pod,
    /// The manifest as a JSON value, as written.
    pub value: serde_json::Value,
    /// `metadata.namespace`, or `default`.
    pub namespace: String,
    /// `metadata.name`.
    pub name: String,
    /// Hash of the canonical (key-order and formatting independent, defaulted) content.
    pub canonical_hash: String,
}

impl ValidPod {
    /// `namespace/name`, the key the kubelet uses to detect duplicates.
    pub fn key(&self) -> String {
        format!("{}/{}", self.namespace, self.name)
    }
}

/// Parse and validate one manifest. `file` names it in diagnostics.
pub fn check(file: &str, bytes: &[u8]) -> Result<ValidPod, Vec<Diagnostic>> {
    let err = |line: Option<usize>, msg: String| vec![Diagnostic::at(file, line, msg)];
    if bytes.len() > MAX_MANIFEST_BYTES {
        return Err(err(
            None,
            format!(
                "file is {} bytes; the kubelet refuses manifests over {} bytes (10 MiB)",
                bytes.len(),
                MAX_MANIFEST_BYTES
            ),
        ));
    }
    let text = match std::str::from_utf8(bytes) {
        Ok(t) => t,
        Err(e) => {
            let line = bytes[..e.valid_up_to()]
                .iter()
                .filter(|b| **b == b'\n')
                .count()
                + 1;
            return Err(err(Some(line), "file is not valid UTF-8 text".into()));
        }
    };
    // Bound the shape before any parser builds anything (a hostile file must not take
    // the agent's memory or time).
    if let Err(e) = guard::check(text) {
        return Err(err(Some(e.line), e.message));
    }
    let index = LineIndex::build_with(text, yaml11::suspicious);

    // Documents: exactly one non-empty document.
    let mut docs = Vec::new();
    for doc in serde_yaml::Deserializer::from_str(text) {
        match serde_yaml::Value::deserialize(doc) {
            Ok(v) => docs.push(v),
            Err(e) => {
                return Err(err(
                    e.location().map(|l| l.line()),
                    format!("YAML syntax error: {}", strip_location(&e.to_string())),
                ));
            }
        }
    }
    let non_empty: Vec<_> = docs.into_iter().filter(|d| !d.is_null()).collect();
    if non_empty.len() > 1 {
        return Err(err(
            index.second_document_line,
            format!(
                "{} YAML documents in one file: a static pod file holds exactly one Pod \
                 (the kubelet would silently run only the first); put each Pod in its own file",
                non_empty.len()
            ),
        ));
    }
    let Some(yaml) = non_empty.into_iter().next() else {
        return Err(err(
            None,
            "file is empty: expected one Pod (apiVersion: v1, kind: Pod)".into(),
        ));
    };
    let value: serde_json::Value = match serde_json::to_value(&yaml) {
        Ok(v) => v,
        Err(e) => {
            return Err(err(
                None,
                format!("cannot be read as JSON-compatible YAML: {e}"),
            ));
        }
    };
    let line = |p: &FieldPath| index.line_of(p);
    let root = FieldPath::default();
    let Some(obj) = value.as_object() else {
        return Err(err(
            Some(1),
            "expected a mapping with apiVersion: v1 and kind: Pod".into(),
        ));
    };

    // Kind and apiVersion first: nothing else makes sense for a Deployment.
    let kind = obj.get("kind").and_then(|k| k.as_str()).unwrap_or("");
    let api_version = obj.get("apiVersion").and_then(|k| k.as_str()).unwrap_or("");
    if kind != "Pod" {
        let what = if kind.is_empty() {
            "no kind".to_string()
        } else {
            format!("kind {kind}")
        };
        let extra = if kind.ends_with("List") || kind == "List" {
            " (lists are not accepted either: one Pod per file)"
        } else if matches!(
            kind,
            "Deployment" | "DaemonSet" | "StatefulSet" | "ReplicaSet" | "Job"
        ) {
            "; to run a pod on every node of a group, list the Pod manifest in that group's static_pods"
        } else {
            ""
        };
        return Err(err(
            line(&root.key("kind")),
            format!("{what}: only Pods (apiVersion: v1, kind: Pod) can be static pods{extra}"),
        ));
    }
    let mut diags = Vec::new();
    if api_version != "v1" {
        diags.push(Diagnostic::at(
            file,
            line(&root.key("apiVersion")),
            format!("apiVersion {api_version:?}: a Pod must have apiVersion: v1"),
        ));
    }
    for (p, m) in rules::check_structure(obj) {
        diags.push(Diagnostic::at(file, line(&p), m));
    }

    let pod: Pod = match serde_path_to_error::deserialize(value.clone()) {
        Ok(p) => p,
        Err(e) => {
            let path = serde_path(e.path());
            let inner = e.into_inner().to_string();
            // Missing required fields were already reported (with better words) above.
            if !inner.starts_with("missing field") || diags.is_empty() {
                diags.push(Diagnostic::at(
                    file,
                    line(&path),
                    format!("{path}: {inner}"),
                ));
            }
            return Err(diags);
        }
    };
    if let Ok(round) = serde_json::to_value(&pod) {
        let mut unknown = Vec::new();
        find_unknown(&value, &round, &root, &mut unknown);
        for p in unknown {
            let (field, parent) = match p.0.last() {
                Some(Seg::Key(k)) => (k.clone(), p.parent()),
                _ => (p.to_string(), root.clone()),
            };
            let at = if parent.0.is_empty() {
                "the top level".to_string()
            } else {
                parent.to_string()
            };
            diags.push(Diagnostic::at(
                file,
                line(&p),
                format!("unknown field {field:?} in {at} (a typo? the kubelet would reject or ignore it)"),
            ));
        }
    }
    for (p, m) in rules::check_pod(&pod) {
        diags.push(Diagnostic::at(file, line(&p), m));
    }
    for (l, m) in yaml11::check(&index, &value) {
        diags.push(Diagnostic::at(file, Some(l), m));
    }
    if !diags.is_empty() {
        diags.sort_by_key(|d| d.line.unwrap_or(0));
        diags.dedup();
        return Err(diags);
    }
    let namespace = pod
        .metadata
        .namespace
        .clone()
        .filter(|n| !n.is_empty())
        .unwrap_or_else(|| "default".into());
    let name = pod.metadata.name.clone().unwrap_or_default();
    let canonical_hash = canonical_hash(&value);
    Ok(ValidPod {
        pod,
        value,
        namespace,
        name,
        canonical_hash,
    })
}

fn strip_location(msg: &str) -> String {
    match msg.find(" at line ") {
        Some(i) => msg[..i].to_string(),
        None => msg.to_string(),
    }
}

fn serde_path(p: &serde_path_to_error::Path) -> FieldPath {
    use serde_path_to_error::Segment;
    FieldPath(
        p.iter()
            .filter_map(|s| match s {
                Segment::Seq { index } => Some(Seg::Index(*index)),
                Segment::Map { key } | Segment::Enum { variant: key } => {
                    Some(Seg::Key(key.clone()))
                }
                Segment::Unknown => None,
            })
            .collect(),
    )
}

/// Keys present (and non-null) in `input` but dropped by the typed round trip.
fn find_unknown(
    input: &serde_json::Value,
    round: &serde_json::Value,
    at: &FieldPath,
    out: &mut Vec<FieldPath>,
) {
    use serde_json::Value;
    match (input, round) {
        (Value::Object(a), Value::Object(b)) => {
            for (k, v) in a {
                match b.get(k) {
                    Some(rv) => find_unknown(v, rv, &at.key(k), out),
                    None if !v.is_null() => out.push(at.key(k)),
                    None => {}
                }
            }
        }
        (Value::Array(a), Value::Array(b)) => {
            for (i, (v, rv)) in a.iter().zip(b).enumerate() {
                find_unknown(v, rv, &at.index(i), out);
            }
        }
        _ => {}
    }
}

#[cfg(test)]
mod tests;
