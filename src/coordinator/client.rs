//! The CLI's way to the coordinator's data: through its local socket while `serve` runs
//! (sled is locked then), else straight from the store.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use anyhow::Context as _;
use async_trait::async_trait;
use base64::Engine as _;

use super::api::{FleetData, SaveRevision, socket_path};
use crate::store::{NodeRevision, Revision, RevisionSummary, SledStore, Store};

/// The push history store behind a running coordinator.
pub struct RemoteStore {
    socket: PathBuf,
}

impl RemoteStore {
    async fn call(&self, method: &str, path: &str, body: &[u8]) -> anyhow::Result<(u16, Vec<u8>)> {
        let (code, out) =
            crate::unixhttp::request(&self.socket, method, path, body, "podfleet serve").await?;
        if code >= 500 {
            anyhow::bail!(
                "the coordinator failed: {}",
                String::from_utf8_lossy(&out).trim()
            );
        }
        Ok((code, out))
    }

    async fn json<T: serde::de::DeserializeOwned>(
        &self,
        method: &str,
        path: &str,
    ) -> anyhow::Result<T> {
        let (_, out) = self.call(method, path, b"").await?;
        serde_json::from_slice(&out).context("unexpected answer from the coordinator")
    }
}

#[async_trait]
impl Store for RemoteStore {
    async fn next_revision_id(&self) -> anyhow::Result<u64> {
        self.json("POST", "/v1/store/next-revision").await
    }

    async fn save_revision(
        &self,
        rev: &Revision,
        blobs: &[(String, Vec<u8>)],
    ) -> anyhow::Result<()> {
        let body = SaveRevision {
            revision: rev.clone(),
            blobs: blobs
                .iter()
                .map(|(sha, b)| {
                    (
                        sha.clone(),
                        base64::engine::general_purpose::STANDARD.encode(b),
                    )
                })
                .collect(),
        };
        let (code, out) = self
            .call("POST", "/v1/store/revisions", &serde_json::to_vec(&body)?)
            .await?;
        if code >= 300 {
            anyhow::bail!(
                "cannot record the revision: {}",
                String::from_utf8_lossy(&out)
            );
        }
        Ok(())
    }

    async fn revisions(&self) -> anyhow::Result<Vec<RevisionSummary>> {
        self.json("GET", "/v1/store/revisions").await
    }

    async fn revision(&self, id: u64) -> anyhow::Result<Option<Revision>> {
        self.json("GET", &format!("/v1/store/revisions/{id}")).await
    }

    async fn blob(&self, sha256: &str) -> anyhow::Result<Option<Vec<u8>>> {
        let (code, out) = self
            .call("GET", &format!("/v1/store/blobs/{sha256}"), b"")
            .await?;
        Ok((code == 200).then_some(out))
    }

    async fn desired(&self) -> anyhow::Result<BTreeMap<String, NodeRevision>> {
        self.json("GET", "/v1/store/desired").await
    }
}

/// A coordinator answering on the state dir's socket, if any.
pub async fn running(state_dir: &Path) -> Option<RemoteStore> {
    let socket = socket_path(state_dir);
    if !socket.exists() {
        return None;
    }
    match crate::unixhttp::request(&socket, "GET", "/healthz", b"", "podfleet serve").await {
        Ok((200, _)) => Some(RemoteStore { socket }),
        _ => None,
    }
}

/// The push history store: the running coordinator's, else the store itself.
pub async fn open_store(state_dir: &Path) -> anyhow::Result<Box<dyn Store>> {
    if let Some(remote) = running(state_dir).await {
        return Ok(Box::new(remote));
    }
    let s = SledStore::open(state_dir)
        .with_context(|| format!("opening the store in {}", state_dir.display()))?;
    Ok(Box::new(s))
}

/// The fleet view as pretty JSON (UTF-8), computed by the running coordinator from memory.
pub async fn view_json(
    state_dir: &Path,
    hosts: Option<&[String]>,
) -> anyhow::Result<Option<Vec<u8>>> {
    view_json_against(state_dir, hosts, None).await
}

/// Like [`view_json`], with SYNC computed against `desired` instead of the last revision.
pub async fn view_json_against(
    state_dir: &Path,
    hosts: Option<&[String]>,
    desired: Option<BTreeMap<String, NodeRevision>>,
) -> anyhow::Result<Option<Vec<u8>>> {
    let Some(remote) = running(state_dir).await else {
        return Ok(None);
    };
    let body = serde_json::to_vec(&super::api::ViewRequest {
        hosts: hosts.map(<[String]>::to_vec),
        desired,
    })?;
    let (code, out) = remote.call("POST", "/v1/view", &body).await?;
    if code != 200 {
        anyhow::bail!(
            "the coordinator answered {code}: {}",
            String::from_utf8_lossy(&out)
        );
    }
    Ok(Some(out))
}

/// Everything the status view needs.
pub async fn fleet_data(state_dir: &Path) -> anyhow::Result<FleetData> {
    if let Some(remote) = running(state_dir).await {
        return remote.json("GET", "/v1/fleet").await;
    }
    let s = SledStore::open(state_dir)
        .with_context(|| format!("opening the store in {}", state_dir.display()))?;
    Ok(FleetData {
        reported: s.reported()?,
        desired: s.desired().await?,
        grace_secs: None,
        connected: Vec::new(),
    })
}
