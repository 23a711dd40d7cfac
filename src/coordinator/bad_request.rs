//! A request the Kubernetes API refuses as kube-apiserver would, with `400 BadRequest` and
//! this message (bad selectors, watch parameters, Table options).

/// Why a request is invalid, in kube-apiserver's words where it has them.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct BadRequest(pub String);
