//! The coordinator: agents report over gRPC (mutual TLS) into the sled store; the CLI reads
//! the fleet view from it.
//!
//! `pki` (the fleet CA) → `server` (tonic service, TLS listener) → `ingest` (messages →
//! store records) → `store`; `api` is the local socket the CLI uses while `serve` holds the
//! store, `client` its other end, `view` the pure status computation, `kube` the read-only
//! Kubernetes API for kubectl, `tunnels` the agents' log tunnels (container logs without an
//! inbound port on nodes).

pub mod api;
pub mod bad_request;
pub mod client;
pub mod feed;
pub mod index;
pub mod ingest;
pub mod kube;
pub mod logs_api;
pub mod pki;
pub mod selector;
pub mod server;
pub mod shared;
pub mod tls_accept;
pub mod tunnels;
pub mod view;
