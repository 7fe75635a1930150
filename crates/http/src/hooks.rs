//! What an adapter can plug into every attempt.

use std::time::Duration;

use reqwest::StatusCode;

use crate::retry::Verdict;

/// A hook could not prepare the request (e.g. a signature could not be computed).
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct HookError(pub String);

/// What the adapter reads in a response body the status alone does not tell.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BodyVerdict {
    /// Nothing special: let the status decide.
    FollowStatus,
    /// The body says "try again" (e.g. a signature made with a clock the server disputes).
    Retry,
    /// The body says "too fast" (e.g. CoinW's `29001` inside a 200): retry, and slow down
    /// like on a 429.
    Throttled,
    /// The body is an error envelope under a success status (e.g. Triport's
    /// `{"error":"tier_insufficient"}` in a 200): no retry, and the adapter maps it with
    /// [`ResponseError::from_response`](crate::ResponseError::from_response) instead of
    /// reporting a decode error.
    Refused,
}

/// Per-adapter hooks around every attempt of one request.
pub trait RequestHooks: Send + Sync {
    /// Called before **every** attempt on a fresh copy of the request, so signatures with a
    /// timestamp are computed anew per attempt. Add credentials here, marking header values
    /// sensitive.
    fn before_attempt(&self, request: &mut reqwest::Request) -> Result<(), HookError> {
        let _ = request;
        Ok(())
    }

    /// Sees every response's status and headers before its body is classified, e.g. to read
    /// the server's clock from `Date`.
    fn observe_response(&self, status: StatusCode, headers: &reqwest::header::HeaderMap) {
        let _ = (status, headers);
    }

    /// Looks for an error hidden in a successful status.
    fn classify_body(&self, status: StatusCode, body: &[u8]) -> BodyVerdict {
        let _ = (status, body);
        BodyVerdict::FollowStatus
    }

    /// Called once per retry with the wait the client chose (and is about to sleep) before
    /// attempt `attempt + 1`: for metrics, and for tests that check the waits themselves.
    fn before_retry(&self, attempt: u32, delay: Duration) {
        let _ = (attempt, delay);
    }
}

/// Hooks that do nothing.
#[derive(Debug, Clone, Copy, Default)]
pub struct NoHooks;

impl RequestHooks for NoHooks {}

pub(crate) fn combine(status: Verdict, body: BodyVerdict) -> Verdict {
    match (status, body) {
        (Verdict::Done, BodyVerdict::Retry | BodyVerdict::Throttled) => {
            Verdict::Retry { after: None }
        }
        (verdict, _) => verdict,
    }
}
