//! `GET /api/v1/namespaces/{ns}/pods/{name}/log`: a container's log, read from its node over
//! the agent's tunnel and streamed to kubectl (or any client) as kube-apiserver does.

use std::collections::HashMap;
use std::sync::Arc;

use axum::http::{StatusCode, header};
use axum::response::{IntoResponse as _, Response};

use super::super::shared::Shared;
use super::status;

/// Serve one log request. Only the fleet's readers (admin certificate or token) read logs:
/// a node's certificate gets 403.
pub(super) async fn serve(
    shared: &Arc<Shared>,
    client: &str,
    node_caller: Option<&str>,
    namespace: &str,
    name: &str,
    q: &HashMap<String, String>,
) -> Response {
    if let Some(node) = node_caller {
        return status(
            StatusCode::FORBIDDEN,
            "Forbidden",
            &format!(
                "pods \"{name}\" is forbidden: User \"system:node:{node}\" cannot get resource \"pods/log\" in API group \"\" in the namespace \"{namespace}\": use the admin kubeconfig (podfleet kubeconfig)"
            ),
        );
    }
    match super::super::logs_api::open(shared, Some(client), namespace, name, q).await {
        Ok(reader) => (
            StatusCode::OK,
            [(header::CONTENT_TYPE, "text/plain")],
            axum::body::Body::from_stream(reader.into_stream()),
        )
            .into_response(),
        Err(e) => {
            let code = StatusCode::from_u16(e.code).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
            let reason = match e.code {
                400 => "BadRequest",
                404 => "NotFound",
                429 => "TooManyRequests",
                503 => "ServiceUnavailable",
                504 => "Timeout",
                _ => "InternalError",
            };
            status(code, reason, &e.message)
        }
    }
}
