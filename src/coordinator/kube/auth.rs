//! Who is asking the Kubernetes API and what they may do: the client certificate's identity
//! (admin or a node), the read-only bearer token, the Node-authorizer rules for node
//! certificates, and `pods/exec` (admin certificate only).

use std::net::SocketAddr;
use std::path::Path;

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

/// Who is asking, as the client proved it: the admin certificate, else the bearer token,
/// else a node's certificate.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) enum Identity {
    /// The admin certificate (`podfleet kubeconfig`): reads the fleet, runs `exec`.
    AdminCert,
    /// The bearer token: reads the fleet (read-only: no `exec`).
    Token,
    /// A node's (agent's) certificate: reads only its own Node and pods.
    Node(String),
}

impl Identity {
    /// The node a node certificate speaks for.
    pub(super) fn node(&self) -> Option<&str> {
        match self {
            Identity::Node(n) => Some(n),
            _ => None,
        }
    }
}

/// The authenticated caller of a request, for every route (an axum extractor: a request
/// with neither certificate nor token is refused with 401 before any handler runs).
pub(super) struct Authenticated {
    /// Who.
    pub(super) who: Identity,
    /// Identity and address, for per-client stream limits.
    pub(super) client: String,
}

impl axum::extract::FromRequestParts<KubeApi> for Authenticated {
    type Rejection = Response;

    async fn from_request_parts(
        parts: &mut axum::http::request::Parts,
        api: &KubeApi,
    ) -> Result<Self, Response> {
        let cert = parts
            .extensions
            .get::<ClientCert>()
            .and_then(|c| c.0.clone());
        let peer = parts.extensions.get::<Peer>().copied();
        let bearer = bearer_ok(&parts.headers, &api.token);
        let who = match (cert.as_deref(), bearer) {
            (Some(super::super::pki::ADMIN_IDENTITY), _) => Identity::AdminCert,
            (_, true) => Identity::Token,
            (Some(node), false) => Identity::Node(node.to_string()),
            (None, false) => {
                return Err(status(
                    StatusCode::UNAUTHORIZED,
                    "Unauthorized",
                    "Unauthorized",
                ));
            }
        };
        let client = format!(
            "{}@{}",
            cert.as_deref().unwrap_or("token"),
            peer.map(|p| p.0.ip().to_string()).unwrap_or_default()
        );
        Ok(Authenticated { who, client })
    }
}

/// May `who` read `resource` (`name`, or a list/watch narrowed by `fields`)? Nodes get
/// what the Kubernetes Node authorizer gives a kubelet: their own Node object and the pods
/// bound to them, nothing else. `Err` is the 403 message.
pub(super) fn authorize(
    who: &Identity,
    resource: &str,
    name: Option<&str>,
    fields: &Selector,
) -> Result<(), String> {
    let Identity::Node(node) = who else {
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
    auth: Authenticated,
    axum::extract::Path((namespace, name)): axum::extract::Path<(String, String)>,
    axum::extract::RawQuery(query): axum::extract::RawQuery,
    ws: Result<
        axum::extract::ws::WebSocketUpgrade,
        axum::extract::ws::rejection::WebSocketUpgradeRejection,
    >,
) -> Response {
    let who = match &auth.who {
        Identity::AdminCert => exec::Exec::Admin(super::super::pki::ADMIN_IDENTITY),
        Identity::Token => exec::Exec::Token,
        Identity::Node(node) => exec::Exec::Node(node),
    };
    let query = query.unwrap_or_default();
    exec::serve(
        &api.shared,
        &auth.client,
        who,
        &namespace,
        &name,
        &query,
        ws,
    )
    .await
}
