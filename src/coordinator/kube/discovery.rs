//! What a client asks before (or instead of) reading objects: API discovery (`/api`,
//! `/apis`), the OpenAPI documents, who am I (`kubectl auth whoami`), may I
//! (`kubectl auth can-i`, `--list`), health and metrics, and the refusal of kubectl commands
//! that would change the cluster.

use axum::http::{HeaderMap, Method, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};

use super::auth::Identity;
use super::{KubeApi, metrics, ok_json, openapi, reviews, status};

/// The core (`v1`) resources: (plural, kind, short name, namespaced).
pub(super) const CORE: [(&str, &str, &str, bool); 5] = [
    ("pods", "Pod", "po", true),
    ("events", "Event", "ev", true),
    ("services", "Service", "svc", true),
    ("nodes", "Node", "no", false),
    ("namespaces", "Namespace", "ns", false),
];

/// The authentication API group (`kubectl auth whoami`).
pub(super) const AUTHN: &str = "authentication.k8s.io";
/// The authorization API group (`kubectl auth can-i`).
pub(super) const AUTHZ: &str = "authorization.k8s.io";

fn core_resources() -> Value {
    let mut resources: Vec<Value> = CORE
        .iter()
        .map(|(name, kind, short, namespaced)| {
            let mut r = json!({
                "name": name,
                "singularName": kind.to_lowercase(),
                "namespaced": namespaced,
                "kind": kind,
                "verbs": ["get", "list", "watch"],
                "shortNames": [short],
            });
            if matches!(*name, "pods" | "services") {
                r["categories"] = json!(["all"]);
            }
            r
        })
        .collect();
    for (sub, verbs) in [
        ("pods/log", json!(["get"])),
        ("pods/exec", json!(["create", "get"])),
    ] {
        resources.push(json!({"name": sub, "singularName": "", "namespaced": true, "kind": if sub == "pods/log" { "Pod" } else { "PodExecOptions" }, "verbs": verbs}));
    }
    json!({"kind": "APIResourceList", "apiVersion": "v1", "groupVersion": "v1", "resources": resources})
}

fn group(name: &str, version: &str) -> Value {
    let gv = json!({"groupVersion": format!("{name}/{version}"), "version": version});
    json!({"kind": "APIGroup", "apiVersion": "v1", "name": name, "versions": [gv.clone()], "preferredVersion": gv})
}

fn review_resources(group: &str, kinds: &[(&str, &str)]) -> Value {
    let resources: Vec<Value> = kinds
        .iter()
        .map(|(name, kind)| json!({"name": name, "singularName": kind.to_lowercase(), "namespaced": false, "kind": kind, "verbs": ["create"]}))
        .collect();
    json!({"kind": "APIResourceList", "apiVersion": "v1", "groupVersion": format!("{group}/v1"), "resources": resources})
}

const AUTHN_KINDS: [(&str, &str); 1] = [("selfsubjectreviews", "SelfSubjectReview")];
const AUTHZ_KINDS: [(&str, &str); 2] = [
    ("selfsubjectaccessreviews", "SelfSubjectAccessReview"),
    ("selfsubjectrulesreviews", "SelfSubjectRulesReview"),
];

/// Answer `path` if it is discovery, OpenAPI, health, metrics or a review; `None` for
/// object reads (and anything else) the caller handles.
pub(super) async fn serve(
    api: &KubeApi,
    who: &Identity,
    method: &Method,
    path: &[&str],
    headers: &HeaderMap,
    body: &[u8],
) -> Option<Response> {
    if method == Method::POST {
        return match path {
            ["apis", AUTHN, "v1", "selfsubjectreviews"] => Some(reviews::whoami(who)),
            ["apis", AUTHZ, "v1", "selfsubjectaccessreviews"] => {
                Some(reviews::access_review(who, headers, body))
            }
            ["apis", AUTHZ, "v1", "selfsubjectrulesreviews"] => Some(reviews::rules_review(who)),
            _ => None,
        };
    }
    if method != Method::GET {
        return None;
    }
    Some(match path {
        ["version"] => ok_json(&json!({
            "major": "1",
            "minor": super::KUBE_MINOR,
            "gitVersion": format!("v1.{}.0-podfleet.{}", super::KUBE_MINOR, env!("CARGO_PKG_VERSION")),
            "gitCommit": "",
            "gitTreeState": "clean",
            "buildDate": "",
            "goVersion": "",
            "compiler": "rustc",
            "platform": format!("linux/{}", crate::rpc::go_arch(std::env::consts::ARCH)),
        })),
        ["api"] => ok_json(&json!({
            "kind": "APIVersions",
            "versions": ["v1"],
            "serverAddressByClientCIDRs": [],
        })),
        ["api", "v1"] => ok_json(&core_resources()),
        ["apis"] => ok_json(&json!({
            "kind": "APIGroupList",
            "apiVersion": "v1",
            "groups": [group(AUTHN, "v1"), group(AUTHZ, "v1"), metrics::group()],
        })),
        ["apis", AUTHN] => ok_json(&group(AUTHN, "v1")),
        ["apis", AUTHZ] => ok_json(&group(AUTHZ, "v1")),
        ["apis", AUTHN, "v1"] => ok_json(&review_resources(AUTHN, &AUTHN_KINDS)),
        ["apis", AUTHZ, "v1"] => ok_json(&review_resources(AUTHZ, &AUTHZ_KINDS)),
        ["healthz"] | ["readyz"] | ["livez"] => "ok".into_response(),
        ["openapi", "v3"] => json_text(openapi::v3_index()),
        ["openapi", "v3", rest @ ..] => match openapi::v3(&rest.join("/")) {
            Some(doc) => json_text(doc),
            None => not_found(&format!("/openapi/v3/{}", rest.join("/"))),
        },
        ["openapi", "v2"] => {
            // kubectl asks for the protobuf form, which podfleet does not serve; a 406 makes
            // it use OpenAPI v3 instead.
            let accept = headers
                .get(header::ACCEPT)
                .and_then(|a| a.to_str().ok())
                .unwrap_or("*/*");
            if accept.contains("json") || accept.contains("*/*") {
                json_text(openapi::v2())
            } else {
                status(
                    StatusCode::NOT_ACCEPTABLE,
                    "NotAcceptable",
                    "only application/json is served for /openapi/v2 (use /openapi/v3)",
                )
            }
        }
        ["metrics"] if matches!(who, Identity::Node(_)) => status(
            StatusCode::FORBIDDEN,
            "Forbidden",
            "a node's certificate reads only its own Node and the pods bound to it; /metrics covers the whole fleet",
        ),
        ["metrics"] => match super::super::api::prometheus(&api.shared).await {
            Ok(text) => (
                StatusCode::OK,
                [(header::CONTENT_TYPE, "text/plain; version=0.0.4")],
                text,
            )
                .into_response(),
            Err(e) => super::internal(e),
        },
        _ => return None,
    })
}

fn json_text(s: &'static str) -> Response {
    (
        StatusCode::OK,
        [(header::CONTENT_TYPE, "application/json")],
        s,
    )
        .into_response()
}

fn not_found(path: &str) -> Response {
    status(
        StatusCode::NOT_FOUND,
        "NotFound",
        &format!("the server could not find the requested resource ({path})"),
    )
}

/// kubectl commands that change the cluster. kubectl sends its command in the
/// `Kubectl-Command` header; these read an object first and some (`cordon`, `drain`)
/// print a server's refusal of the change and still exit 0, so the read is refused.
const CHANGING: [&str; 20] = [
    "annotate",
    "apply",
    "attach",
    "autoscale",
    "cordon",
    "create",
    "debug",
    "delete",
    "drain",
    "edit",
    "expose",
    "label",
    "patch",
    "port-forward",
    "replace",
    "rollout",
    "run",
    "scale",
    "set",
    "taint",
];

/// The refusal for an object read made by a kubectl command that would change something.
pub(super) fn refuse_changing_command(headers: &HeaderMap) -> Option<Response> {
    let command = headers.get("kubectl-command")?.to_str().ok()?;
    let sub = command.split_whitespace().nth(1)?;
    let sub = if sub == "uncordon" { "cordon" } else { sub };
    if !CHANGING.contains(&sub) {
        return None;
    }
    let message = match sub {
        "port-forward" | "attach" | "debug" => format!(
            "`{command}` is not supported by podfleet's Kubernetes API (it serves get, list, watch, logs, exec and top)"
        ),
        "cordon" | "drain" | "taint" => format!(
            "`{command}`: nodes cannot be cordoned, drained or tainted here: a static pod runs on the node whose manifest directory holds it (change static_pods in the inventory and run `podfleet push`)"
        ),
        _ => format!(
            "`{command}` changes the cluster, and podfleet's Kubernetes API is read-only: static pods change only through their manifest files (edit manifests/ and run `podfleet push`)"
        ),
    };
    Some(status(
        StatusCode::METHOD_NOT_ALLOWED,
        "MethodNotAllowed",
        &message,
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn changing_kubectl_commands_are_refused() {
        let h = |c: &str| {
            let mut m = HeaderMap::new();
            m.insert("kubectl-command", c.parse().unwrap());
            m
        };
        for c in [
            "kubectl cordon",
            "kubectl uncordon",
            "kubectl drain",
            "kubectl label",
        ] {
            assert!(refuse_changing_command(&h(c)).is_some(), "{c}");
        }
        for c in [
            "kubectl get",
            "kubectl describe",
            "kubectl logs",
            "kubectl exec",
            "kubectl top",
        ] {
            assert!(refuse_changing_command(&h(c)).is_none(), "{c}");
        }
        assert!(refuse_changing_command(&HeaderMap::new()).is_none());
    }
}
