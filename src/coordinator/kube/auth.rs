//! Who is asking the Kubernetes API and what they may do: the client certificate's identity
//! (admin or a node), the read-only bearer token, the Node-authorizer rules for node
//! certificates, and `pods/exec` (admin certificate only).

use std::net::SocketAddr;
use std::path::Path;

use axum::Extension;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::Response;

use super::super::pki::Pki;
use super::super::selector::Selector;
use super::{KubeApi, exec, status};

/// The identity in the TLS client's certificate from the fleet CA (rustls verified it), if
/// it presented one.
#[derive(Clone)]
pub(super) struct ClientCert(pub(super) Option<String>);

/// The client's address (streams are limited per identity and address).
#[derive(Clone, Copy)]
pub(super) struct Peer(pub(super) SocketAddr);

/// Who is asking.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) enum Caller {
    /// The admin certificate or the bearer token: reads the whole fleet.
    Admin,
    /// A node's (agent's) certificate: reads only its own Node and pods.
    Node(String),
}

/// May `caller` read `resource` (`name`, or a list/watch narrowed by `fields`)? Nodes get
/// what the Kubernetes Node authorizer gives a kubelet: their own Node object and the pods
/// bound to them, nothing else. `Err` is the 403 message.
pub(super) fn authorize(
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
    super::super::pki::write_private(&path, t.as_bytes())?;
    Ok(t)
}

/// Whether the request carries the API's bearer token.
pub(super) fn bearer_ok(headers: &HeaderMap, token: &str) -> bool {
    headers
        .get(header::AUTHORIZATION)
        .and_then(|h| h.to_str().ok())
        .and_then(|h| h.strip_prefix("Bearer "))
        .is_some_and(|t| t.trim() == token)
}

/// `pods/exec`: only the admin certificate may run commands (the token is read-only).
pub(super) async fn exec_route(
    State(api): State<KubeApi>,
    Extension(cert): Extension<ClientCert>,
    Extension(peer): Extension<Peer>,
    headers: HeaderMap,
    axum::extract::Path((namespace, name)): axum::extract::Path<(String, String)>,
    axum::extract::RawQuery(query): axum::extract::RawQuery,
    ws: Result<
        axum::extract::ws::WebSocketUpgrade,
        axum::extract::ws::rejection::WebSocketUpgradeRejection,
    >,
) -> Response {
    let bearer = bearer_ok(&headers, &api.token);
    let who = match (&cert.0, bearer) {
        (Some(id), _) if id == super::super::pki::ADMIN_IDENTITY => exec::Exec::Admin(id),
        (_, true) => exec::Exec::Token,
        (Some(node), false) => exec::Exec::Node(node),
        (None, false) => return status(StatusCode::UNAUTHORIZED, "Unauthorized", "Unauthorized"),
    };
    let query = query.unwrap_or_default();
    let client = client_key(cert.0.as_deref(), peer);
    exec::serve(&api.shared, &client, who, &namespace, &name, &query, ws).await
}

/// Who a client is for per-client limits: its identity (certificate name or the token) and
/// its address.
pub(super) fn client_key(cert: Option<&str>, peer: Peer) -> String {
    format!("{}@{}", cert.unwrap_or("token"), peer.0.ip())
}
