//! A read-only subset of the Kubernetes API over HTTPS, so plain `kubectl` shows the
//! fleet's mirror pods, nodes, namespaces and events, and can watch pods.
//!
//! Clients authenticate with a certificate from the fleet CA (`podfleet kubeconfig`) or
//! the bearer token in `<state-dir>/pki/kube-token`; anonymous requests get 401. Every
//! mutation gets a 405 `Status` saying static pods change through their manifest files.

pub mod objects;
pub mod selector;
pub mod table;
pub mod watch;

use std::collections::{BTreeMap, HashMap};
use std::convert::Infallible;
use std::net::SocketAddr;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use axum::body::{Body, Bytes};
use axum::extract::{Query, State};
use axum::http::{HeaderMap, Method, StatusCode, Uri, header};
use axum::response::{IntoResponse, Response};
use axum::{Extension, Router};
use futures::StreamExt as _;
use serde_json::{Value, json};

use super::pki::Pki;
use super::server::Shared;
use selector::Selector;

/// The Kubernetes version podfleet's API answers as (k8s-openapi's feature).
const KUBE_MINOR: &str = "33";

/// The identity in the TLS client's certificate from the fleet CA (rustls verified it), if
/// it presented one.
#[derive(Clone)]
struct ClientCert(Option<String>);

/// Who is asking.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Caller {
    /// The admin certificate or the bearer token: reads the whole fleet.
    Admin,
    /// A node's (agent's) certificate: reads only its own Node and pods.
    Node(String),
}

/// May `caller` read `resource` (`name`, or a list/watch narrowed by `fields`)? Nodes get
/// what the Kubernetes Node authorizer gives a kubelet: their own Node object and the pods
/// bound to them, nothing else. `Err` is the 403 message.
fn authorize(
    caller: &Caller,
    resource: &str,
    name: Option<&str>,
    fields: &Selector,
) -> Result<(), String> {
    let Caller::Node(node) = caller else {
        return Ok(());
    };
    let allowed = match (resource, name) {
        ("nodes", Some(n)) => n == node,
        ("nodes", None) => fields.requires("metadata.name", node),
        // A single pod is checked against its spec.nodeName once it is found.
        ("pods", Some(_)) => true,
        ("pods", None) => fields.requires("spec.nodeName", node),
        _ => false,
    };
    if allowed {
        return Ok(());
    }
    let verb = if name.is_some() { "get" } else { "list" };
    Err(format!(
        "{resource} is forbidden: User \"system:node:{node}\" cannot {verb} resource \"{resource}\" in API group \"\": \
         a node's certificate reads only its own Node and the pods bound to it (fieldSelector spec.nodeName={node}); \
         use the admin kubeconfig (podfleet kubeconfig) to read the fleet"
    ))
}

#[derive(Clone)]
struct KubeApi {
    shared: Arc<Shared>,
    token: Arc<String>,
}

/// The bearer token for the API, created on first use (`<state-dir>/pki/kube-token`, 0600).
pub fn token(state_dir: &Path) -> anyhow::Result<String> {
    let path = Pki::dir_in(state_dir).join("kube-token");
    if let Ok(t) = std::fs::read_to_string(&path)
        && !t.trim().is_empty()
    {
        return Ok(t.trim().to_string());
    }
    let mut raw = [0u8; 24];
    getrandom::fill(&mut raw).map_err(|e| anyhow::anyhow!("no randomness: {e}"))?;
    let t = hex::encode(raw);
    super::pki::write_private(&path, t.as_bytes())?;
    Ok(t)
}

/// A Kubernetes `Status` error response.
fn status(code: StatusCode, reason: &str, message: &str) -> Response {
    let body = json!({
        "kind": "Status",
        "apiVersion": "v1",
        "metadata": {},
        "status": "Failure",
        "message": message,
        "reason": reason,
        "code": code.as_u16(),
    });
    (
        code,
        [(header::CONTENT_TYPE, "application/json")],
        body.to_string(),
    )
        .into_response()
}

fn ok_json(v: &Value) -> Response {
    (
        StatusCode::OK,
        [(header::CONTENT_TYPE, "application/json")],
        v.to_string(),
    )
        .into_response()
}

const NAMESPACED: [(&str, &str, &str, &str); 4] = [
    ("pods", "Pod", "po", "true"),
    ("events", "Event", "ev", "true"),
    ("nodes", "Node", "no", "false"),
    ("namespaces", "Namespace", "ns", "false"),
];

fn resource_list() -> Value {
    let resources: Vec<Value> = NAMESPACED
        .iter()
        .map(|(name, kind, short, namespaced)| {
            json!({
                "name": name,
                "singularName": kind.to_lowercase(),
                "namespaced": *namespaced == "true",
                "kind": kind,
                "verbs": ["get", "list", "watch"],
                "shortNames": [short],
            })
        })
        .collect();
    json!({"kind": "APIResourceList", "apiVersion": "v1", "groupVersion": "v1", "resources": resources})
}

/// Everything a list needs, read once per request.
struct Snapshot {
    pods: Vec<Value>,
    nodes: Vec<Value>,
    namespaces: Vec<Value>,
    events: Vec<Value>,
    rv: u64,
}

async fn snapshot(api: &KubeApi, want_events: bool) -> anyhow::Result<Snapshot> {
    let store = &api.shared.store;
    let rv = store.next_id()?;
    let mut pods: Vec<Value> = store
        .mirrors()?
        .into_iter()
        .map(|(_, m)| m)
        .filter(Value::is_object)
        .collect();
    pods.sort_by(|a, b| {
        let key = |p: &Value| {
            (
                p["metadata"]["namespace"]
                    .as_str()
                    .unwrap_or_default()
                    .to_string(),
                p["metadata"]["name"]
                    .as_str()
                    .unwrap_or_default()
                    .to_string(),
            )
        };
        key(a).cmp(&key(b))
    });
    let reported = store.reported()?;
    let desired = crate::store::Store::desired(store).await?;
    let now = jiff::Timestamp::now();
    let nodes = reported
        .nodes
        .iter()
        .map(|n| objects::node(n, desired.get(&n.name), now, api.shared.grace))
        .collect();
    let namespaces = objects::namespaces(&pods, &reported.events);
    let events = if want_events {
        let uids: BTreeMap<(String, String), String> = pods
            .iter()
            .map(|p| {
                let m = &p["metadata"];
                (
                    (
                        m["namespace"].as_str().unwrap_or_default().to_string(),
                        m["name"].as_str().unwrap_or_default().to_string(),
                    ),
                    m["uid"].as_str().unwrap_or_default().to_string(),
                )
            })
            .collect();
        reported
            .events
            .iter()
            .map(|e| objects::event(e, &uids))
            .collect()
    } else {
        Vec::new()
    };
    Ok(Snapshot {
        pods,
        nodes,
        namespaces,
        events,
        rv,
    })
}

fn wants_table(headers: &HeaderMap) -> bool {
    headers
        .get(header::ACCEPT)
        .and_then(|a| a.to_str().ok())
        .is_some_and(|a| a.contains("as=Table"))
}

fn kind_of(resource: &str) -> &'static str {
    NAMESPACED
        .iter()
        .find(|r| r.0 == resource)
        .map(|r| r.1)
        .unwrap_or("Unknown")
}

/// Parsed `labelSelector` and `fieldSelector`.
struct Filter {
    namespace: Option<String>,
    labels: Selector,
    fields: Selector,
}

impl Filter {
    fn keep(&self, o: &Value) -> bool {
        self.namespace
            .as_deref()
            .is_none_or(|ns| o["metadata"]["namespace"] == ns)
            && self.labels.matches_labels(o)
            && self.fields.matches_fields(o)
    }
}

async fn handle(
    State(api): State<KubeApi>,
    Extension(cert): Extension<ClientCert>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    Query(q): Query<HashMap<String, String>>,
) -> Response {
    let bearer = headers
        .get(header::AUTHORIZATION)
        .and_then(|h| h.to_str().ok())
        .and_then(|h| h.strip_prefix("Bearer "))
        .is_some_and(|t| t.trim() == api.token.as_str());
    let caller = match (bearer, cert.0) {
        (true, _) => Caller::Admin,
        (false, Some(id)) if id == super::pki::ADMIN_IDENTITY => Caller::Admin,
        (false, Some(node)) => Caller::Node(node),
        (false, None) => {
            return status(StatusCode::UNAUTHORIZED, "Unauthorized", "Unauthorized");
        }
    };
    let path: Vec<&str> = uri.path().split('/').filter(|s| !s.is_empty()).collect();
    if method != Method::GET {
        let what = match path.as_slice() {
            ["api", "v1", "namespaces", ns, res, name, ..] => {
                format!("{res} \"{name}\" in namespace {ns}")
            }
            ["api", "v1", res, name, ..] => format!("{res} \"{name}\""),
            _ => "this resource".into(),
        };
        return status(
            StatusCode::METHOD_NOT_ALLOWED,
            "MethodNotAllowed",
            &format!(
                "{what} is read-only here: this is podfleet's view of static pods, which change only by editing the node's manifest files (edit manifests/ and run `podfleet push`)"
            ),
        );
    }
    let table = if wants_table(&headers) {
        match table::IncludeObject::parse(q.get("includeObject").map(String::as_str)) {
            Ok(include) => Some(include),
            Err(e) => return status(StatusCode::BAD_REQUEST, "BadRequest", &e),
        }
    } else {
        None
    };
    let (resource, namespace, name) = match path.as_slice() {
        ["version"] => {
            return ok_json(&json!({
                "major": "1",
                "minor": KUBE_MINOR,
                "gitVersion": format!("v1.{KUBE_MINOR}.0-podfleet.{}", env!("CARGO_PKG_VERSION")),
                "gitCommit": "",
                "gitTreeState": "clean",
                "buildDate": "",
                "goVersion": "",
                "compiler": "rustc",
                "platform": format!("linux/{}", std::env::consts::ARCH),
            }));
        }
        ["api"] => {
            return ok_json(&json!({
                "kind": "APIVersions",
                "versions": ["v1"],
                "serverAddressByClientCIDRs": [],
            }));
        }
        ["apis"] => {
            return ok_json(&json!({"kind": "APIGroupList", "apiVersion": "v1", "groups": []}));
        }
        ["api", "v1"] => return ok_json(&resource_list()),
        ["healthz"] | ["readyz"] | ["livez"] => return "ok".into_response(),
        ["api", "v1", res] => (*res, None, None),
        ["api", "v1", "namespaces", ns, res] if matches!(*res, "pods" | "events") => {
            (*res, Some(*ns), None)
        }
        ["api", "v1", "namespaces", ns, res, name] if matches!(*res, "pods" | "events") => {
            (*res, Some(*ns), Some(*name))
        }
        ["api", "v1", res, name] if matches!(*res, "nodes" | "namespaces") => {
            (*res, None, Some(*name))
        }
        _ => {
            return status(
                StatusCode::NOT_FOUND,
                "NotFound",
                &format!(
                    "the server could not find the requested resource ({})",
                    uri.path()
                ),
            );
        }
    };
    let Some(resource) = NAMESPACED.iter().map(|r| r.0).find(|r| *r == resource) else {
        return status(
            StatusCode::NOT_FOUND,
            "NotFound",
            &format!("the server doesn't have a resource type \"{resource}\""),
        );
    };
    let parse = |key: &str, f: &dyn Fn(&str) -> Result<Selector, String>| {
        q.get(key)
            .map(|s| f(s))
            .transpose()
            .map(Option::unwrap_or_default)
    };
    let filter = match (
        parse("labelSelector", &Selector::labels),
        parse("fieldSelector", &|s| Selector::fields(resource, s)),
    ) {
        (Ok(labels), Ok(fields)) => Filter {
            namespace: namespace.map(str::to_string),
            labels,
            fields,
        },
        (Err(e), _) | (_, Err(e)) => return status(StatusCode::BAD_REQUEST, "BadRequest", &e),
    };
    if let Err(msg) = authorize(&caller, resource, name, &filter.fields) {
        return status(StatusCode::FORBIDDEN, "Forbidden", &msg);
    }
    let watch = q.get("watch").is_some_and(|w| w == "true" || w == "1");
    let snap = match snapshot(&api, resource == "events").await {
        Ok(s) => s,
        Err(e) => {
            return status(
                StatusCode::INTERNAL_SERVER_ERROR,
                "InternalError",
                &format!("{e:#}"),
            );
        }
    };
    let all = match resource {
        "pods" => snap.pods,
        "nodes" => snap.nodes,
        "namespaces" => snap.namespaces,
        _ => snap.events,
    };
    let now = jiff::Timestamp::now();
    if let Some(name) = name {
        let found = all
            .into_iter()
            .find(|o| o["metadata"]["name"] == name && filter.keep(o));
        if let (Caller::Node(node), Some(o)) = (&caller, &found)
            && o["spec"]["nodeName"] != node.as_str()
            && resource == "pods"
        {
            return status(
                StatusCode::FORBIDDEN,
                "Forbidden",
                &format!(
                    "pods \"{name}\" is forbidden: User \"system:node:{node}\" cannot get pods not bound to node {node}"
                ),
            );
        }
        let Some(obj) = found else {
            let singular = kind_of(resource).to_lowercase();
            return status(
                StatusCode::NOT_FOUND,
                "NotFound",
                &format!("{singular}s \"{name}\" not found"),
            );
        };
        return ok_json(&match table {
            Some(include) => table::table(
                resource,
                std::slice::from_ref(&obj),
                &snap.rv.to_string(),
                now,
                include,
            ),
            None => obj,
        });
    }
    if watch {
        let from = q
            .get("resourceVersion")
            .and_then(|v| v.parse().ok())
            .unwrap_or(snap.rv);
        return watch_response(&api, resource, filter, table, from, all);
    }
    let items: Vec<Value> = all.into_iter().filter(|o| filter.keep(o)).collect();
    if let Some(include) = table {
        return ok_json(&table::table(
            resource,
            &items,
            &snap.rv.to_string(),
            now,
            include,
        ));
    }
    ok_json(&json!({
        "kind": format!("{}List", kind_of(resource)),
        "apiVersion": "v1",
        "metadata": {"resourceVersion": snap.rv.to_string()},
        "items": items,
    }))
}

fn watch_line(
    kind: &str,
    resource: &str,
    object: Value,
    table: Option<table::IncludeObject>,
) -> Bytes {
    let object = match table {
        Some(include) => {
            let rv = object["metadata"]["resourceVersion"]
                .as_str()
                .unwrap_or("0")
                .to_string();
            table::table(resource, &[object], &rv, jiff::Timestamp::now(), include)
        }
        None => object,
    };
    let mut line = json!({"type": kind, "object": object}).to_string();
    line.push('\n');
    Bytes::from(line)
}

/// `?watch=true`: pods stream ADDED/MODIFIED/DELETED from `from` on; other resources are
/// rebuilt on every read, so their watch starts with ADDED for what exists and then stays
/// quiet until the client's timeout.
fn watch_response(
    api: &KubeApi,
    resource: &'static str,
    filter: Filter,
    table: Option<table::IncludeObject>,
    from: u64,
    current: Vec<Value>,
) -> Response {
    let filter = Arc::new(filter);
    let body: futures::stream::BoxStream<'static, Result<Bytes, Infallible>> = if resource == "pods"
    {
        let (replay, rx) = api.shared.hub.subscribe(from);
        let f = filter.clone();
        let replay = futures::stream::iter(
            replay
                .into_iter()
                .filter(move |c| f.keep(&c.object))
                .map(move |c| Ok(watch_line(c.kind, resource, c.object, table))),
        );
        let f = filter.clone();
        let live = tokio_stream::wrappers::BroadcastStream::new(rx).filter_map(move |c| {
            let f = f.clone();
            async move {
                let c = c.ok()?;
                (c.rv > from && f.keep(&c.object))
                    .then(|| Ok(watch_line(c.kind, resource, c.object, table)))
            }
        });
        replay.chain(live).boxed()
    } else {
        let initial: Vec<Result<Bytes, Infallible>> = current
            .into_iter()
            .filter(|o| filter.keep(o))
            .map(|o| Ok(watch_line("ADDED", resource, o, table)))
            .collect();
        futures::stream::iter(initial)
            .chain(futures::stream::pending())
            .boxed()
    };
    Response::builder()
        .status(StatusCode::OK)
        .header(header::CONTENT_TYPE, "application/json")
        .body(Body::from_stream(body))
        .unwrap_or_else(|_| status(StatusCode::INTERNAL_SERVER_ERROR, "InternalError", "watch"))
}

/// Serve the API on `addr` until the process ends.
pub async fn serve(
    addr: SocketAddr,
    state_dir: &Path,
    pki: &Pki,
    names: &[String],
    shared: Arc<Shared>,
) -> anyhow::Result<tokio::task::JoinHandle<()>> {
    let mut names = names.to_vec();
    names.push(addr.ip().to_string());
    // A client certificate is optional here (a bearer token works too).
    let tls = pki.server_tls(&names, true, &[b"h2", b"http/1.1"])?;
    let acceptor = tokio_rustls::TlsAcceptor::from(Arc::new(tls));
    let listener = tokio::net::TcpListener::bind(addr)
        .await
        .map_err(|e| anyhow::anyhow!("cannot listen on {addr} (--kube-listen): {e}"))?;
    std::fs::write(state_dir.join("kube-addr"), addr.to_string())?;
    let api = KubeApi {
        shared,
        token: Arc::new(token(state_dir)?),
    };
    let router = Router::new().fallback(handle).with_state(api);
    Ok(tokio::spawn(async move {
        loop {
            let Ok((tcp, peer)) = listener.accept().await else {
                tokio::time::sleep(Duration::from_millis(100)).await;
                continue;
            };
            let (acceptor, router) = (acceptor.clone(), router.clone());
            tokio::spawn(async move {
                let tls = match acceptor.accept(tcp).await {
                    Ok(t) => t,
                    Err(e) => {
                        tracing::warn!(%peer, "kube API: refused TLS client: {e}");
                        return;
                    }
                };
                let cert = tls
                    .get_ref()
                    .1
                    .peer_certificates()
                    .and_then(|c| c.first())
                    .and_then(|c| super::pki::identity_of(c.as_ref()));
                let app = router.layer(Extension(ClientCert(cert)));
                let svc = hyper_util::service::TowerToHyperService::new(app);
                let _ = hyper_util::server::conn::auto::Builder::new(
                    hyper_util::rt::TokioExecutor::new(),
                )
                .serve_connection_with_upgrades(hyper_util::rt::TokioIo::new(tls), svc)
                .await;
            });
        }
    }))
}
