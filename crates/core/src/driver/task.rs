//! Running one page fetch as its own task.

use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};

use futures::future::BoxFuture;
use futures::FutureExt;
use tokio::runtime::Handle;
use tokio::task::JoinHandle;

use crate::{ErrorKind, Provider, SourceError};

/// Runs `fetch` as a task of the current tokio runtime, so the pages in flight are received
/// and decoded on every worker while the walk emits the ones before them (polled inline,
/// every decode ran on the walk's own thread, one after the other, and each refill waited
/// for it). Without a runtime the fetch runs inline when polled. Dropping the returned
/// future aborts the task: a dropped listing leaves no request behind.
pub(super) fn fetch_task<T: Send + 'static>(
    provider: &Provider,
    fetch: BoxFuture<'static, Result<T, SourceError>>,
) -> BoxFuture<'static, Result<T, SourceError>> {
    match Handle::try_current() {
        Ok(runtime) => Joined {
            task: runtime.spawn(fetch),
            provider: provider.clone(),
        }
        .boxed(),
        Err(_) => fetch,
    }
}

/// A spawned fetch, aborted when dropped.
struct Joined<T> {
    task: JoinHandle<Result<T, SourceError>>,
    provider: Provider,
}

impl<T> Future for Joined<T> {
    type Output = Result<T, SourceError>;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        self.task.poll_unpin(cx).map(|joined| match joined {
            Ok(result) => result,
            Err(err) if err.is_panic() => std::panic::resume_unwind(err.into_panic()),
            // Only a runtime shutting down cancels the task from outside.
            Err(err) => Err(SourceError::new(
                self.provider.clone(),
                ErrorKind::Other,
                err,
            )),
        })
    }
}

impl<T> Drop for Joined<T> {
    fn drop(&mut self) {
        self.task.abort();
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use futures::channel::oneshot;

    use super::*;

    #[tokio::test]
    async fn a_dropped_fetch_is_aborted() {
        let (alive, dropped) = oneshot::channel::<()>();
        let fetch = async move {
            let _alive = alive;
            futures::future::pending::<()>().await;
            Ok::<(), SourceError>(())
        };
        drop(fetch_task(&Provider::Census, fetch.boxed()));
        // The task's future (and the sender it holds) is dropped only if it was aborted.
        let ended = tokio::time::timeout(Duration::from_secs(10), dropped).await;
        assert!(
            matches!(ended, Ok(Err(_))),
            "the task ran on after its drop"
        );
    }

    #[tokio::test]
    async fn a_spawned_fetch_returns_its_result() {
        let fetch = async { Ok::<u8, SourceError>(7) };
        assert_eq!(
            fetch_task(&Provider::Census, fetch.boxed()).await.unwrap(),
            7
        );
    }

    #[test]
    fn without_a_runtime_the_fetch_runs_inline() {
        let fetch = async { Ok::<u8, SourceError>(7) };
        let result = fetch_task(&Provider::Census, fetch.boxed()).now_or_never();
        assert_eq!(result.map(Result::unwrap), Some(7));
    }
}
