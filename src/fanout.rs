//! The one way podfleet runs work on many hosts: a future per host, at most `forks` at
//! once, each result seen as it comes. A job that panics becomes that host's error (named),
//! never the whole run's.

use std::future::Future;
use std::panic::AssertUnwindSafe;

use futures::{FutureExt as _, StreamExt as _};

/// A job that panicked: `internal error: <the panic message>`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("internal error: {0}")]
pub struct JobPanicked(pub String);

/// Run `jobs` (host, work) at most `forks` at a time; `on_done` sees each host's result as
/// it finishes. Results come in completion order.
pub async fn for_each_host<T, F>(
    jobs: impl IntoIterator<Item = (String, F)>,
    forks: usize,
    on_done: &(dyn Fn(&str, &Result<T, JobPanicked>) + Sync),
) -> Vec<(String, Result<T, JobPanicked>)>
where
    F: Future<Output = T>,
{
    futures::stream::iter(jobs.into_iter().map(|(host, work)| async move {
        let result = AssertUnwindSafe(work).catch_unwind().await.map_err(|p| {
            let why = p
                .downcast_ref::<&str>()
                .map(|s| s.to_string())
                .or_else(|| p.downcast_ref::<String>().cloned())
                .unwrap_or_else(|| "a panic".into());
            JobPanicked(why)
        });
        on_done(&host, &result);
        (host, result)
    }))
    .buffer_unordered(forks.max(1))
    .collect()
    .await
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Mutex;

    #[tokio::test]
    async fn a_panicking_job_is_its_hosts_error() {
        let seen = Mutex::new(Vec::new());
        let jobs = ["a", "b", "c"].map(|h| {
            (h.to_string(), async move {
                if h == "b" {
                    panic!("boom on {h}");
                }
                h.len()
            })
        });
        let mut out =
            for_each_host(jobs, 2, &|h, _| seen.lock().unwrap().push(h.to_string())).await;
        out.sort_by(|x, y| x.0.cmp(&y.0));
        assert_eq!(out[0].1, Ok(1));
        assert_eq!(out[1].1, Err(JobPanicked("boom on b".into())));
        assert_eq!(
            out[1].1.clone().unwrap_err().to_string(),
            "internal error: boom on b"
        );
        assert_eq!(out[2].1, Ok(1));
        assert_eq!(seen.lock().unwrap().len(), 3);
    }
}
