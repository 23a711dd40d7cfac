//! podfleet: a fleet manager for Kubernetes static pods.
//!
//! Data flows one way (see `docs/ARCHITECTURE.md`): inventory + manifests are rendered into a
//! desired state, compared with what a node has (a pure plan), pushed over a transport,
//! run by the on-node agent and reported to the coordinator.

pub mod age;
pub mod agent;
pub mod cli;
pub mod coordinator;
pub mod fanout;
pub mod fleet;
pub mod logging;
pub mod manifest;
pub mod nodedir;
pub mod plan;
pub mod pod_status;
pub mod push;
pub mod rollout;
pub mod rpc;
pub mod signals;
pub mod store;
pub mod term;
pub mod transport;
pub mod unixhttp;
