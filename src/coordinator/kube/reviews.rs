//! `kubectl auth whoami` (SelfSubjectReview) and `kubectl auth can-i` (SelfSubjectAccessReview,
//! `--list`: SelfSubjectRulesReview): who the caller is and what podfleet lets them do —
//! read the served resources, `exec` with the admin certificate, change nothing.
//!
//! kubectl sends these reviews as protobuf (`application/vnd.kubernetes.protobuf`), or JSON;
//! the answers are JSON, which it accepts.

use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};

use super::auth::Identity;
use super::discovery::{AUTHN, AUTHZ, CORE};
use super::status;

fn user(who: &Identity) -> Value {
    match who {
        Identity::AdminCert => {
            json!({"username": crate::coordinator::pki::ADMIN_IDENTITY, "groups": ["podfleet:admins", "system:authenticated"]})
        }
        Identity::Token => {
            json!({"username": "podfleet:token", "groups": ["podfleet:readers", "system:authenticated"]})
        }
        Identity::Node(n) => {
            json!({"username": format!("system:node:{n}"), "groups": ["system:nodes", "system:authenticated"]})
        }
    }
}

/// `kubectl auth whoami`.
pub(super) fn whoami(who: &Identity) -> Response {
    let body = json!({
        "kind": "SelfSubjectReview",
        "apiVersion": format!("{AUTHN}/v1"),
        "metadata": {"creationTimestamp": null},
        "status": {"userInfo": user(who)},
    });
    (StatusCode::CREATED, axum::Json(body)).into_response()
}

const READ: [&str; 3] = ["get", "list", "watch"];

/// May `who` do `verb` on `resource`(`/sub`) in `group`, object `name`? (allowed, reason)
pub(super) fn allowed(
    who: &Identity,
    verb: &str,
    group: &str,
    resource: &str,
    sub: &str,
    name: &str,
) -> (bool, String) {
    let served = match (group, resource, sub) {
        ("", r, "") if CORE.iter().any(|c| c.0 == r) => READ.contains(&verb),
        ("", "pods", "log") => verb == "get",
        ("", "pods", "exec") => matches!(verb, "create" | "get"),
        ("metrics.k8s.io", "pods" | "nodes", "") => matches!(verb, "get" | "list"),
        (AUTHN, "selfsubjectreviews", "") => verb == "create",
        (AUTHZ, "selfsubjectaccessreviews" | "selfsubjectrulesreviews", "") => verb == "create",
        _ => false,
    };
    if !served {
        return (
            false,
            "podfleet serves a read-only view of static pods: they change only through their manifest files (edit manifests/ and run `podfleet push`)".into(),
        );
    }
    match who {
        Identity::AdminCert => (true, String::new()),
        Identity::Token if sub == "exec" => (
            false,
            "the bearer token is read-only; exec needs the admin certificate (podfleet kubeconfig)"
                .into(),
        ),
        Identity::Token => (true, String::new()),
        Identity::Node(node) => {
            let ok = match (resource, sub) {
                ("nodes", "") => name == *node,
                ("pods", "" | "log") => verb == "get",
                (
                    "selfsubjectreviews" | "selfsubjectaccessreviews" | "selfsubjectrulesreviews",
                    _,
                ) => true,
                _ => false,
            };
            let why = if ok {
                String::new()
            } else {
                format!(
                    "a node's certificate reads only its own Node and the pods bound to it (node {node})"
                )
            };
            (ok, why)
        }
    }
}

/// `kubectl auth can-i VERB RESOURCE` (and non-resource URLs).
pub(super) fn access_review(who: &Identity, headers: &HeaderMap, body: &[u8]) -> Response {
    let protobuf = headers
        .get(header::CONTENT_TYPE)
        .and_then(|c| c.to_str().ok())
        .is_some_and(|c| c.contains("protobuf"));
    let spec = if protobuf {
        proto::access_review_spec(body)
    } else {
        serde_json::from_slice::<Value>(body)
            .ok()
            .map(|v| v["spec"].clone())
    };
    let Some(spec) = spec else {
        return status(
            StatusCode::BAD_REQUEST,
            "BadRequest",
            "the body is not a SelfSubjectAccessReview",
        );
    };
    let (ok, reason) = if let Some(r) = spec.get("resourceAttributes").filter(|r| r.is_object()) {
        let s = |k: &str| r[k].as_str().unwrap_or_default().to_string();
        allowed(
            who,
            &s("verb"),
            &s("group"),
            &s("resource"),
            &s("subresource"),
            &s("name"),
        )
    } else {
        let n = &spec["nonResourceAttributes"];
        let path = n["path"].as_str().unwrap_or_default();
        let readable = [
            "/api", "/apis", "/healthz", "/livez", "/readyz", "/version", "/openapi", "/metrics",
        ]
        .iter()
        .any(|p| path == *p || path.starts_with(&format!("{p}/")));
        let ok = n["verb"] == "get" && readable;
        let why = if ok { "" } else { "not served by podfleet" };
        (ok, why.to_string())
    };
    let review = json!({
        "kind": "SelfSubjectAccessReview",
        "apiVersion": format!("{AUTHZ}/v1"),
        "metadata": {"creationTimestamp": null},
        "spec": spec,
        "status": {"allowed": ok, "reason": reason},
    });
    (StatusCode::CREATED, axum::Json(review)).into_response()
}

/// `kubectl auth can-i --list`.
pub(super) fn rules_review(who: &Identity) -> Response {
    let mut review =
        json!({"kind": "SelfSubjectRulesReview", "apiVersion": format!("{AUTHZ}/v1"), "spec": {}});
    let reviews = json!({"verbs": ["create"], "apiGroups": [AUTHN, AUTHZ], "resources": ["selfsubjectreviews", "selfsubjectaccessreviews", "selfsubjectrulesreviews"]});
    let rules = match who {
        Identity::Node(node) => vec![
            json!({"verbs": ["get", "list", "watch"], "apiGroups": [""], "resources": ["nodes"], "resourceNames": [node]}),
            json!({"verbs": ["get"], "apiGroups": [""], "resources": ["pods", "pods/log"]}),
            reviews,
        ],
        _ => {
            let core: Vec<&str> = CORE.iter().map(|c| c.0).collect();
            let mut rules = vec![
                json!({"verbs": READ, "apiGroups": [""], "resources": core}),
                json!({"verbs": ["get"], "apiGroups": [""], "resources": ["pods/log"]}),
                json!({"verbs": ["get", "list"], "apiGroups": ["metrics.k8s.io"], "resources": ["pods", "nodes"]}),
                reviews,
            ];
            if matches!(who, Identity::AdminCert) {
                rules.push(json!({"verbs": ["create", "get"], "apiGroups": [""], "resources": ["pods/exec"]}));
            }
            rules
        }
    };
    review["status"] = json!({
        "resourceRules": rules,
        "nonResourceRules": [{"verbs": ["get"], "nonResourceURLs": ["/api", "/api/*", "/apis", "/apis/*", "/healthz", "/livez", "/readyz", "/version", "/openapi", "/openapi/*", "/metrics"]}],
        "incomplete": false,
    });
    (StatusCode::CREATED, axum::Json(review)).into_response()
}

/// The protobuf forms kubectl sends (k8s.io/api/authorization/v1/generated.proto, in the
/// `k8s\0` + runtime.Unknown envelope of k8s.io/apimachinery/pkg/runtime/generated.proto).
mod proto {
    use serde_json::{Value, json};

    #[derive(Clone, PartialEq, prost::Message)]
    struct Unknown {
        #[prost(bytes = "vec", tag = "2")]
        raw: Vec<u8>,
    }

    #[derive(Clone, PartialEq, prost::Message)]
    struct SelfSubjectAccessReview {
        #[prost(message, optional, tag = "2")]
        spec: Option<Spec>,
    }

    #[derive(Clone, PartialEq, prost::Message)]
    struct Spec {
        #[prost(message, optional, tag = "1")]
        resource_attributes: Option<ResourceAttributes>,
        #[prost(message, optional, tag = "2")]
        non_resource_attributes: Option<NonResourceAttributes>,
    }

    #[derive(Clone, PartialEq, prost::Message)]
    struct ResourceAttributes {
        #[prost(string, tag = "1")]
        namespace: String,
        #[prost(string, tag = "2")]
        verb: String,
        #[prost(string, tag = "3")]
        group: String,
        #[prost(string, tag = "4")]
        version: String,
        #[prost(string, tag = "5")]
        resource: String,
        #[prost(string, tag = "6")]
        subresource: String,
        #[prost(string, tag = "7")]
        name: String,
    }

    #[derive(Clone, PartialEq, prost::Message)]
    struct NonResourceAttributes {
        #[prost(string, tag = "1")]
        path: String,
        #[prost(string, tag = "2")]
        verb: String,
    }

    /// The review's `spec` as JSON, if `body` is one.
    pub(super) fn access_review_spec(body: &[u8]) -> Option<Value> {
        use prost::Message;
        let raw = body.strip_prefix(b"k8s\0")?;
        let unknown = Unknown::decode(raw).ok()?;
        let review = SelfSubjectAccessReview::decode(unknown.raw.as_slice()).ok()?;
        let spec = review.spec?;
        Some(
            match (spec.resource_attributes, spec.non_resource_attributes) {
                (Some(r), _) => json!({"resourceAttributes": {
                    "namespace": r.namespace, "verb": r.verb, "group": r.group, "version": r.version,
                    "resource": r.resource, "subresource": r.subresource, "name": r.name,
                }}),
                (None, Some(n)) => {
                    json!({"nonResourceAttributes": {"path": n.path, "verb": n.verb}})
                }
                (None, None) => json!({}),
            },
        )
    }

    #[cfg(test)]
    pub(super) fn encode(verb: &str, resource: &str) -> Vec<u8> {
        use prost::Message;
        let review = SelfSubjectAccessReview {
            spec: Some(Spec {
                resource_attributes: Some(ResourceAttributes {
                    verb: verb.into(),
                    resource: resource.into(),
                    ..Default::default()
                }),
                non_resource_attributes: None,
            }),
        };
        let mut out = b"k8s\0".to_vec();
        out.extend(
            Unknown {
                raw: review.encode_to_vec(),
            }
            .encode_to_vec(),
        );
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn can_i_answers_reads_yes_and_changes_no() {
        let yes = |who: &Identity, v, g, r, s, n| allowed(who, v, g, r, s, n).0;
        for who in [Identity::AdminCert, Identity::Token] {
            assert!(yes(&who, "list", "", "pods", "", ""));
            assert!(yes(&who, "watch", "", "nodes", "", ""));
            assert!(yes(&who, "get", "", "pods", "log", ""));
            assert!(!yes(&who, "delete", "", "pods", "", ""));
            assert!(!yes(&who, "patch", "", "nodes", "", ""));
            assert!(!yes(&who, "get", "apps", "deployments", "", ""));
        }
        assert!(yes(&Identity::AdminCert, "create", "", "pods", "exec", ""));
        assert!(!yes(&Identity::Token, "create", "", "pods", "exec", ""));
        let node = Identity::Node("n1".into());
        assert!(yes(&node, "get", "", "nodes", "", "n1"));
        assert!(!yes(&node, "get", "", "nodes", "", "n2"));
        assert!(!yes(&node, "list", "", "events", "", ""));
    }

    #[test]
    fn protobuf_reviews_are_read() {
        let spec = proto::access_review_spec(&proto::encode("list", "pods")).unwrap();
        assert_eq!(spec["resourceAttributes"]["verb"], "list");
        assert_eq!(spec["resourceAttributes"]["resource"], "pods");
        assert!(proto::access_review_spec(b"{}").is_none());
    }
}
