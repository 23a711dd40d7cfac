//! Watches the manifest directory with inotify (notify) and reports changed names.
//!
//! Like the kubelet: one non-recursive watch; dot files ignored; if the directory is
//! missing or the watch is lost, retry with back-off 1 s → 20 s. Every (re)established
//! watch asks for a full re-list, which also covers queue overflows.

use std::path::{Path, PathBuf};

use notify::{EventKind, RecursiveMode, Watcher};
use tokio::sync::mpsc;

use super::backoff::{Backoff, BackoffPolicy};

/// What the watcher reports.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum WatchMsg {
    /// A (non-dot) name in the directory changed.
    Changed(String),
    /// Re-list everything (watch (re)established, overflow, or the directory went away).
    Rescan,
}

/// Run the watcher until the receiver is dropped.
pub fn spawn(dir: PathBuf, out: mpsc::UnboundedSender<WatchMsg>) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        let mut backoff = Backoff::new(BackoffPolicy::WATCH);
        loop {
            let (lost_tx, mut lost_rx) = mpsc::unbounded_channel::<()>();
            match establish(&dir, out.clone(), lost_tx) {
                Ok(watcher) => {
                    backoff.reset();
                    if out.send(WatchMsg::Rescan).is_err() {
                        return;
                    }
                    tokio::select! {
                        _ = lost_rx.recv() => {}
                        _ = out.closed() => return,
                    }
                    drop(watcher);
                    tracing::warn!(dir = %dir.display(), "lost the watch on the manifest directory; re-establishing");
                    let _ = out.send(WatchMsg::Rescan);
                }
                Err(e) => {
                    tracing::debug!(dir = %dir.display(), "cannot watch the manifest directory yet: {e}");
                }
            }
            let delay = backoff.next_delay(std::time::Instant::now());
            tokio::select! {
                _ = tokio::time::sleep(delay) => {}
                _ = out.closed() => return,
            }
        }
    })
}

fn establish(
    dir: &Path,
    out: mpsc::UnboundedSender<WatchMsg>,
    lost: mpsc::UnboundedSender<()>,
) -> notify::Result<notify::RecommendedWatcher> {
    let watched = dir.to_path_buf();
    let mut w = notify::recommended_watcher(move |res: notify::Result<notify::Event>| match res {
        Ok(ev) => {
            if ev.need_rescan() {
                let _ = out.send(WatchMsg::Rescan);
            }
            for p in &ev.paths {
                if p == &watched {
                    if matches!(ev.kind, EventKind::Remove(_)) {
                        let _ = lost.send(());
                    }
                    continue;
                }
                let Some(name) = p.file_name().map(|n| n.to_string_lossy().to_string()) else {
                    continue;
                };
                // Editors' swap and temp files, and podfleet's own .tmp files (kubelet #40331).
                if name.starts_with('.') {
                    continue;
                }
                if matches!(ev.kind, EventKind::Access(_)) {
                    continue;
                }
                let _ = out.send(WatchMsg::Changed(name));
            }
        }
        Err(_) => {
            let _ = lost.send(());
        }
    })?;
    w.watch(dir, RecursiveMode::NonRecursive)?;
    Ok(w)
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

    #[tokio::test]
    async fn reports_changes_ignores_dot_files_and_survives_a_missing_dir() {
        let d = tempfile::tempdir().unwrap();
        let dir = d.path().join("manifests");
        let (tx, mut rx) = mpsc::unbounded_channel();
        let _h = spawn(dir.clone(), tx);
        tokio::time::sleep(Duration::from_millis(200)).await;
        std::fs::create_dir(&dir).unwrap();
        // The watch comes up within the back-off and asks for a re-list.
        let first = tokio::time::timeout(Duration::from_secs(5), rx.recv())
            .await
            .unwrap();
        assert_eq!(first, Some(WatchMsg::Rescan));
        std::fs::write(dir.join(".a.yaml.tmp"), "x").unwrap();
        std::fs::rename(dir.join(".a.yaml.tmp"), dir.join("a.yaml")).unwrap();
        let got = tokio::time::timeout(Duration::from_secs(5), rx.recv())
            .await
            .unwrap();
        assert_eq!(got, Some(WatchMsg::Changed("a.yaml".into())));
    }
}
