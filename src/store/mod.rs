//! Fleet state: push revisions (with the file contents they wrote) and, in the
//! coordinator, node and pod reports and events.
//!
//! `Store` is the small trait the rest of podfleet uses. `SledStore` is the only code that
//! touches sled (the user's choice). sled takes an
//! exclusive lock on its directory, so while `podfleet serve` owns the store, the CLI
//! talks to the coordinator instead (see `coordinator::client`).

mod fleet;
mod revision;
mod sled_fleet;
mod sled_store;

use std::collections::BTreeMap;
use std::path::PathBuf;

use async_trait::async_trait;

pub use fleet::{
    ContainerRecord, EventRecord, EventRetention, NodeInfo, NodeRecord, PodRecord, Reported,
};
pub use revision::{FileRev, NodeOutcome, NodeRevision, Revision, RevisionSummary};
pub use sled_store::{SledStore, StoreLocked};

/// Push history, the part of the store the CLI needs.
#[async_trait]
pub trait Store: Send + Sync {
    /// Reserve the next revision number.
    async fn next_revision_id(&self) -> anyhow::Result<u64>;
    /// Save a finished revision and the contents it refers to (sha256 → bytes), durably.
    async fn save_revision(
        &self,
        rev: &Revision,
        blobs: &[(String, Vec<u8>)],
    ) -> anyhow::Result<()>;
    /// All revisions, oldest first.
    async fn revisions(&self) -> anyhow::Result<Vec<RevisionSummary>>;
    /// One revision.
    async fn revision(&self, id: u64) -> anyhow::Result<Option<Revision>>;
    /// File content by SHA-256.
    async fn blob(&self, sha256: &str) -> anyhow::Result<Option<Vec<u8>>>;
    /// Per node, the files (name → sha256) of the last revision that reached it.
    async fn desired(&self) -> anyhow::Result<BTreeMap<String, NodeRevision>>;
}

/// The per-user state directory: `$PODFLEET_STATE_DIR`, else `$XDG_DATA_HOME/podfleet`,
/// else `~/.local/share/podfleet`.
pub fn default_state_dir() -> PathBuf {
    if let Some(d) = std::env::var_os("PODFLEET_STATE_DIR").filter(|d| !d.is_empty()) {
        return PathBuf::from(d);
    }
    if let Some(d) = std::env::var_os("XDG_DATA_HOME").filter(|d| !d.is_empty()) {
        return PathBuf::from(d).join("podfleet");
    }
    crate::transport::target::home_dir().join(".local/share/podfleet")
}
