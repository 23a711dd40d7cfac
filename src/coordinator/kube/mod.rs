//! A read-only subset of the Kubernetes API over HTTPS, so plain `kubectl` shows the
//! fleet's mirror pods, nodes, namespaces and events, and can watch them.
//!
//! Clients authenticate with a certificate from the fleet CA (`podfleet kubeconfig`) or
//! the bearer token in `<state-dir>/pki/kube-token`; anonymous requests get 401. Every
//! mutation gets a 405 `Status` saying static pods change through their manifest files.

mod auth;
mod discovery;
mod exec;
mod metrics;
pub mod objects;
mod openapi;
mod podlog;
mod reviews;
pub mod stream;
pub mod synth;
pub mod table;

use std::collections::{BTreeMap, HashMap};
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use axum::extract::{Query, State};
use axum::http::{HeaderMap, Method, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::{Extension, Router};
use serde_json::{Value, json};

use super::bad_request::BadRequest;
use super::pki::Pki;
use super::selector::Selector;
use super::shared::Shared;
pub use auth::token;
use auth::{Authenticated, ClientCert, Identity, Peer, authorize, exec_route};

/// The Kubernetes version podfleet's API answers as (k8s-openapi's feature).
pub(super) const KUBE_MINOR: &str = "33";

#[derive(Clone)]
struct KubeApi {
    shared: Arc<Shared>,
    token: Arc<String>,
    tracker: Arc<synth::Tracker>,
    /// One rebuild at a time: one that read the store earlier must not be observed after
    /// a later one (a node's heartbeat would go back and forth).
    syncing: Arc<tokio::sync::Mutex<()>>,
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

/// Everything a list needs, read once per request.
struct Snapshot {
    pods: Vec<Value>,
    nodes: Vec<Value>,
    namespaces: Vec<Value>,
    events: Vec<Value>,
    rv: u64,
}

impl Snapshot {
    fn take(self, resource: &str) -> Vec<Value> {
        match resource {
            "pods" => self.pods,
            "nodes" => self.nodes,
            "namespaces" => self.namespaces,
            "events" => self.events,
            // podfleet has no Services; served (empty) so `kubectl cluster-info` works.
            _ => Vec::new(),
        }
    }
}

/// The mirror pods, by namespace and name.
fn mirrors(store: &crate::store::SledStore) -> anyhow::Result<Vec<Value>> {
    let mut pods: Vec<Value> = store
        .mirrors()?
        .into_iter()
        .map(|(_, m)| m)
        .filter(Value::is_object)
        .collect();
    let key = |p: &Value| {
        let m = &p["metadata"];
        (
            m["namespace"].as_str().unwrap_or_default().to_string(),
            m["name"].as_str().unwrap_or_default().to_string(),
        )
    };
    pods.sort_by_key(key);
    Ok(pods)
}

/// Rebuild the node, namespace and event objects and let the tracker version and publish
/// what changed.
async fn sync(api: &KubeApi) -> anyhow::Result<()> {
    let _one = api.syncing.lock().await;
    let store = &api.shared.store;
    let pods = mirrors(store)?;
    let reported = store.reported()?;
    let desired = crate::store::Store::desired(store).await?;
    let now = jiff::Timestamp::now();
    let nodes: Vec<Value> = reported
        .nodes
        .iter()
        .map(|n| objects::node(n, desired.get(&n.name), now, api.shared.grace))
        .collect();
    let namespaces = objects::namespaces(&pods, &reported.events);
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
    let events: Vec<Value> = reported
        .events
        .iter()
        .map(|e| objects::event(e, &uids))
        .collect();
    let next = || store.next_id();
    let hub = &api.shared.hub;
    api.tracker.observe(hub, "nodes", &nodes, &next)?;
    api.tracker.observe(hub, "namespaces", &namespaces, &next)?;
    api.tracker.observe(hub, "events", &events, &next)?;
    Ok(())
}

/// The API's state at one resourceVersion: every change below it is in.
async fn snapshot(api: &KubeApi) -> anyhow::Result<Snapshot> {
    sync(api).await?;
    let store = &api.shared.store;
    let rv = api.shared.hub.settled(|| store.next_id())?;
    Ok(Snapshot {
        pods: mirrors(store)?,
        nodes: api.tracker.current("nodes"),
        namespaces: api.tracker.current("namespaces"),
        events: api.tracker.current("events"),
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
    discovery::CORE
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
    auth: Authenticated,
    request: axum::http::request::Parts,
    Query(q): Query<HashMap<String, String>>,
    body: axum::body::Bytes,
) -> Response {
    let (method, uri, headers) = (request.method, request.uri, request.headers);
    let Authenticated { who, client } = auth;
    let path: Vec<&str> = uri.path().split('/').filter(|s| !s.is_empty()).collect();
    if let (&Method::GET, ["api", "v1", "namespaces", ns, "pods", name, "log"]) =
        (&method, path.as_slice())
    {
        return podlog::serve(&api.shared, &client, who.node(), ns, name, &q).await;
    }
    if let Some(r) = discovery::serve(&api, &who, &method, &path, &headers, &body).await {
        return r;
    }
    if let Some(r) = discovery::refuse_changing_command(&headers) {
        return r;
    }
    if let (Some(&sub @ ("portforward" | "attach" | "proxy" | "ephemeralcontainers")), true) =
        (path.last(), path.len() > 4)
    {
        return status(
            StatusCode::METHOD_NOT_ALLOWED,
            "MethodNotAllowed",
            &format!(
                "pods/{sub} is not supported by podfleet's Kubernetes API (it serves get, list, watch, logs, exec and top)"
            ),
        );
    }
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
    if let Some(r) = metrics::serve(&api.shared, who.node(), &path, &q) {
        return r;
    }
    let table = if wants_table(&headers) {
        match table::IncludeObject::parse(q.get("includeObject").map(String::as_str)) {
            Ok(include) => Some(include),
            Err(e) => return status(StatusCode::BAD_REQUEST, "BadRequest", &e.0),
        }
    } else {
        None
    };
    let (resource, namespace, name) = match path.as_slice() {
        ["api", "v1", res] => (*res, None, None),
        ["api", "v1", "namespaces", ns, res] if matches!(*res, "pods" | "events" | "services") => {
            (*res, Some(*ns), None)
        }
        ["api", "v1", "namespaces", ns, res, name]
            if matches!(*res, "pods" | "events" | "services") =>
        {
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
    let Some(resource) = discovery::CORE.iter().map(|r| r.0).find(|r| *r == resource) else {
        return status(
            StatusCode::NOT_FOUND,
            "NotFound",
            &format!("the server doesn't have a resource type \"{resource}\""),
        );
    };
    let parse = |key: &str, f: &dyn Fn(&str) -> Result<Selector, BadRequest>| {
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
        (Err(e), _) | (_, Err(e)) => return status(StatusCode::BAD_REQUEST, "BadRequest", &e.0),
    };
    if let Err(msg) = authorize(&who, resource, name, &filter.fields) {
        return status(StatusCode::FORBIDDEN, "Forbidden", &msg);
    }
    let watching = q.get("watch").is_some_and(|w| w == "true" || w == "1");
    if watching && name.is_none() {
        return match stream::Params::parse(&q) {
            Ok(params) => watch(&api, resource, filter, table, params).await,
            Err(e) => status(StatusCode::BAD_REQUEST, "BadRequest", &e.0),
        };
    }
    let snap = match snapshot(&api).await {
        Ok(s) => s,
        Err(e) => return internal(e),
    };
    let rv = snap.rv;
    let all = snap.take(resource);
    let now = jiff::Timestamp::now();
    if let Some(name) = name {
        let found = all
            .into_iter()
            .find(|o| o["metadata"]["name"] == name && filter.keep(o));
        if let (Identity::Node(node), Some(o)) = (&who, &found)
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
                &rv.to_string(),
                now,
                include,
            ),
            None => obj,
        });
    }
    let items: Vec<Value> = all.into_iter().filter(|o| filter.keep(o)).collect();
    if let Some(include) = table {
        return ok_json(&table::table(
            resource,
            &items,
            &rv.to_string(),
            now,
            include,
        ));
    }
    ok_json(&json!({
        "kind": format!("{}List", kind_of(resource)),
        "apiVersion": "v1",
        "metadata": {"resourceVersion": rv.to_string()},
        "items": items,
    }))
}

pub(super) fn internal(e: anyhow::Error) -> Response {
    status(
        StatusCode::INTERNAL_SERVER_ERROR,
        "InternalError",
        &format!("{e:#}"),
    )
}

/// `?watch=true`: subscribe to the hub, then read the state the watch starts from (so no
/// change falls in between), and stream from a task.
async fn watch(
    api: &KubeApi,
    resource: &'static str,
    filter: Filter,
    table: Option<table::IncludeObject>,
    params: stream::Params,
) -> Response {
    let (tx, lines) = tokio::sync::mpsc::channel(64);
    let (replay, rx) = match api.shared.hub.subscribe(params.start) {
        Ok(sub) => sub,
        Err(message) => {
            // As kube-apiserver: a 200 whose only event is the 410, so clients relist.
            let _ = tx.try_send(stream::expired_line(&message));
            return stream::response(lines);
        }
    };
    let snap = match snapshot(api).await {
        Ok(s) => s,
        Err(e) => return internal(e),
    };
    let start = match params.start {
        super::feed::Start::Current => (snap.rv, Vec::new()),
        super::feed::Start::From(rv) => (rv, replay),
    };
    let initial = match params.start {
        super::feed::Start::Current => snap.take(resource),
        super::feed::Start::From(_) => Vec::new(),
    };
    let w = stream::Watch {
        resource,
        kind: kind_of(resource),
        keep: Arc::new(move |o: &Value| filter.keep(o)),
        table,
        params,
    };
    tokio::spawn(w.run(tx, api.shared.clone(), (initial, start.0, start.1), rx));
    stream::response(lines)
}

/// Serve the API on `listener` until the returned task is aborted (or the process ends).
pub async fn serve(
    listener: tokio::net::TcpListener,
    state_dir: &Path,
    pki: &Pki,
    names: &[String],
    shared: Arc<Shared>,
) -> anyhow::Result<tokio::task::JoinHandle<()>> {
    let addr = listener.local_addr()?;
    let mut names = names.to_vec();
    names.push(addr.ip().to_string());
    // A client certificate is optional here (a bearer token works too).
    let tls = pki.server_tls(&names, true, &[b"h2", b"http/1.1"])?;
    std::fs::write(state_dir.join("kube-addr"), addr.to_string())?;
    let api = KubeApi {
        shared,
        token: Arc::new(token(state_dir)?),
        tracker: Default::default(),
        syncing: Default::default(),
    };
    // While anyone watches, node, namespace and event changes go out within a second.
    let background = api.clone();
    let rebuild = async move {
        loop {
            tokio::time::sleep(Duration::from_secs(1)).await;
            if background.shared.hub.watched()
                && let Err(e) = sync(&background).await
            {
                tracing::warn!("kube API: cannot rebuild nodes and events for watches: {e:#}");
            }
        }
    };
    let shared_for_refusals = api.shared.clone();
    let router = Router::new()
        .route(
            "/api/v1/namespaces/{namespace}/pods/{name}/exec",
            axum::routing::any(exec_route),
        )
        .fallback(handle)
        .with_state(api);
    let refused = {
        let shared = shared_for_refusals;
        Arc::new(move || {
            shared
                .counters
                .refused
                .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        })
    };
    let mut clients = super::tls_accept::incoming(listener, Arc::new(tls), "kube API", refused);
    let accept = async move {
        while let Some((tls, peer)) = clients.recv().await {
            let router = router.clone();
            tokio::spawn(async move {
                let cert = tls
                    .get_ref()
                    .1
                    .peer_certificates()
                    .and_then(|c| c.first())
                    .and_then(|c| super::pki::identity_of(c.as_ref()));
                let app = router
                    .layer(Extension(ClientCert(cert)))
                    .layer(Extension(Peer(peer)));
                let svc = hyper_util::service::TowerToHyperService::new(app);
                let _ = hyper_util::server::conn::auto::Builder::new(
                    hyper_util::rt::TokioExecutor::new(),
                )
                .serve_connection_with_upgrades(hyper_util::rt::TokioIo::new(tls), svc)
                .await;
            });
        }
    };
    Ok(tokio::spawn(async move {
        tokio::select! {
            _ = accept => {}
            _ = rebuild => {}
        }
    }))
}
