//! The body of a `?watch=true` response: newline-delimited watch events, as kube-apiserver
//! streams them. A watch starts from the current state (`resourceVersion` unset or `0`:
//! every object as ADDED) or after a resourceVersion (the changes since, from the hub's
//! history; an expired one is a single ERROR event with a 410 `Expired` Status), follows
//! the hub's changes through a [`Window`], sends BOOKMARK events when asked
//! (`allowWatchBookmarks=true`: every minute and when the watch ends), and ends after
//! `timeoutSeconds` (by default after 30 to 60 minutes, like kube-apiserver's
//! `--min-request-timeout`).

use std::collections::HashMap;
use std::convert::Infallible;
use std::sync::Arc;
use std::time::Duration;

use axum::body::{Body, Bytes};
use axum::http::{StatusCode, header};
use axum::response::Response;
use serde_json::{Value, json};
use tokio::sync::{broadcast, mpsc};

use super::super::feed::{Change, Start, Window, key_of};
use super::table::{self, IncludeObject};
use crate::coordinator::bad_request::BadRequest;
use crate::coordinator::shared::Shared;

/// How often a watch that allows bookmarks gets one (kube-apiserver: about a minute).
const BOOKMARK_EVERY: Duration = Duration::from_secs(60);

/// Does an object match the watch's namespace and selectors?
pub type Keep = Arc<dyn Fn(&Value) -> bool + Send + Sync>;

/// The watch parameters of a request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Params {
    /// Where the watch starts.
    pub start: Start,
    /// When it ends.
    pub timeout: Duration,
    /// Whether the client takes BOOKMARK events.
    pub bookmarks: bool,
}

impl Params {
    /// From the query. `Err` is the 400 message.
    pub fn parse(q: &HashMap<String, String>) -> Result<Params, BadRequest> {
        Self::parse_text(q).map_err(BadRequest)
    }

    fn parse_text(q: &HashMap<String, String>) -> Result<Params, String> {
        let start = Start::decide(q.get("resourceVersion").map(String::as_str)).map_err(|e| e.0)?;
        let timeout = match q.get("timeoutSeconds").map(|t| (t, t.parse::<u64>())) {
            Some((_, Ok(secs))) if secs > 0 => Duration::from_secs(secs),
            Some((t, Err(_))) => {
                return Err(format!(
                    "timeoutSeconds: Invalid value: {t:?}: must be a non-negative integer"
                ));
            }
            // Unset or 0: kube-apiserver's minRequestTimeout (1800s) times 1 to 2.
            _ => {
                let mut jitter = [0u8; 2];
                let _ = getrandom::fill(&mut jitter);
                Duration::from_secs(1800 + u64::from(u16::from_le_bytes(jitter)) % 1800)
            }
        };
        let bookmarks = q
            .get("allowWatchBookmarks")
            .is_some_and(|b| b == "true" || b == "1");
        Ok(Params {
            start,
            timeout,
            bookmarks,
        })
    }
}

/// One line of the stream.
pub fn line(kind: &str, resource: &str, object: Value, table: Option<IncludeObject>) -> Bytes {
    let object = match table {
        Some(include) => {
            let rv = object["metadata"]["resourceVersion"]
                .as_str()
                .unwrap_or("0")
                .to_string();
            table::table(resource, &[object], &rv, jiff::Timestamp::now(), include)
        }
        None => object,
    };
    let mut line = json!({"type": kind, "object": object}).to_string();
    line.push('\n');
    Bytes::from(line)
}

/// The ERROR event kube-apiserver sends for a watch from an expired resourceVersion.
pub fn expired_line(message: &str) -> Bytes {
    let status = json!({
        "kind": "Status",
        "apiVersion": "v1",
        "metadata": {},
        "status": "Failure",
        "message": message,
        "reason": "Expired",
        "code": 410,
    });
    let mut line = json!({"type": "ERROR", "object": status}).to_string();
    line.push('\n');
    Bytes::from(line)
}

fn bookmark_line(kind: &str, rv: u64) -> Bytes {
    let mut line = json!({
        "type": "BOOKMARK",
        "object": {"kind": kind, "apiVersion": "v1", "metadata": {"resourceVersion": rv.to_string()}},
    })
    .to_string();
    line.push('\n');
    Bytes::from(line)
}

/// One watch.
pub struct Watch {
    /// The resource (`pods`, …) and its kind.
    pub resource: &'static str,
    /// Its kind (for bookmarks).
    pub kind: &'static str,
    /// The watch's namespace and selectors.
    pub keep: Keep,
    /// Table rows instead of objects (kubectl), and what they carry.
    pub table: Option<IncludeObject>,
    /// Parameters.
    pub params: Params,
}

/// A streaming response from `lines` (ends when the sender does).
pub fn response(lines: mpsc::Receiver<Bytes>) -> Response {
    let body = futures::StreamExt::map(tokio_stream::wrappers::ReceiverStream::new(lines), |b| {
        Ok::<_, Infallible>(b)
    });
    Response::builder()
        .status(StatusCode::OK)
        .header(header::CONTENT_TYPE, "application/json")
        .body(Body::from_stream(body))
        .unwrap_or_else(|_| Response::new(Body::empty()))
}

impl Watch {
    /// Stream the watch into `tx`: `initial` objects (as ADDED, for [`Start::Current`],
    /// with `base` the resourceVersion they are current at) or `replay`ed changes, then
    /// what `rx` brings, until the timeout or the client leaves.
    pub async fn run(
        self,
        tx: mpsc::Sender<Bytes>,
        shared: Arc<Shared>,
        (initial, base, replay): (Vec<Value>, u64, Vec<Change>),
        mut rx: broadcast::Receiver<Change>,
    ) {
        let deadline = tokio::time::Instant::now() + self.params.timeout;
        let mut window = Window::new(base);
        for o in initial.into_iter().filter(|o| (self.keep)(o)) {
            let rv = o["metadata"]["resourceVersion"]
                .as_str()
                .and_then(|v| v.parse().ok())
                .unwrap_or(0);
            window.seed(&key_of(&o), rv);
            if tx
                .send(line("ADDED", self.resource, o, self.table))
                .await
                .is_err()
            {
                return;
            }
        }
        for c in replay {
            if !self.deliver(&tx, &mut window, c).await {
                return;
            }
        }
        let mut next_bookmark = tokio::time::Instant::now() + BOOKMARK_EVERY;
        loop {
            tokio::select! {
                _ = tokio::time::sleep_until(deadline) => {
                    if self.params.bookmarks {
                        self.bookmark(&tx, &shared, &mut window, &mut rx).await;
                    }
                    return;
                }
                _ = tokio::time::sleep_until(next_bookmark), if self.params.bookmarks => {
                    if !self.bookmark(&tx, &shared, &mut window, &mut rx).await {
                        return;
                    }
                    next_bookmark = tokio::time::Instant::now() + BOOKMARK_EVERY;
                }
                c = rx.recv() => match c {
                    Ok(c) => if !self.deliver(&tx, &mut window, c).await { return },
                    // Too slow to keep up (or shutting down): the client watches again from
                    // its last resourceVersion, or relists if that expired.
                    Err(_) => return,
                },
                _ = tx.closed() => return,
            }
        }
    }

    /// Send what `c` is for this watcher; false when the client is gone.
    async fn deliver(&self, tx: &mpsc::Sender<Bytes>, window: &mut Window, c: Change) -> bool {
        if c.resource != self.resource {
            return true;
        }
        let after = (self.keep)(&c.object);
        // DELETED carries the last state; a MODIFIED without its previous state is
        // taken to have matched as it does now.
        let before = match (&c.prev, c.kind) {
            (_, "DELETED") => after,
            (Some(prev), _) => (self.keep)(prev),
            (None, _) => after,
        };
        match window.admit(c.kind, &key_of(&c.object), c.rv, before, after) {
            Some(kind) => tx
                .send(line(kind, self.resource, c.object, self.table))
                .await
                .is_ok(),
            None => true,
        }
    }

    /// Deliver everything published so far, then a BOOKMARK at the resourceVersion that
    /// covers it; false when the client is gone.
    async fn bookmark(
        &self,
        tx: &mpsc::Sender<Bytes>,
        shared: &Shared,
        window: &mut Window,
        rx: &mut broadcast::Receiver<Change>,
    ) -> bool {
        let Ok(settled) = shared.hub.settled(|| shared.store.next_id()) else {
            return true;
        };
        while let Ok(c) = rx.try_recv() {
            if !self.deliver(tx, window, c).await {
                return false;
            }
        }
        let rv = window.bookmark(settled);
        tx.send(bookmark_line(self.kind, rv)).await.is_ok()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn watch_parameters() {
        let q = |pairs: &[(&str, &str)]| -> HashMap<String, String> {
            pairs
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect()
        };
        let p = Params::parse(&q(&[
            ("timeoutSeconds", "3"),
            ("resourceVersion", "42"),
            ("allowWatchBookmarks", "true"),
        ]))
        .unwrap();
        assert_eq!(
            p,
            Params {
                start: Start::From(42),
                timeout: Duration::from_secs(3),
                bookmarks: true
            }
        );
        for none in [q(&[]), q(&[("timeoutSeconds", "0")])] {
            let p = Params::parse(&none).unwrap();
            assert_eq!(p.start, Start::Current);
            assert!(!p.bookmarks);
            assert!((1800..3600).contains(&p.timeout.as_secs()));
        }
        assert!(Params::parse(&q(&[("timeoutSeconds", "soon")])).is_err());
    }

    #[test]
    fn expired_is_a_410_status_event() {
        let l = expired_line("too old resource version: 1 (5)");
        let v: Value = serde_json::from_slice(&l).unwrap();
        assert_eq!(v["type"], "ERROR");
        assert_eq!(v["object"]["code"], 410);
        assert_eq!(v["object"]["reason"], "Expired");
    }
}
