//! Triport's error envelope under a success status.
//!
//! Triport documents errors as `{"error": "<tag>"}` with a 4xx/5xx status, but a proxy or a
//! misbehaving deployment can send the same envelope with a 200. Read as a page it would be
//! a decode error ("missing field `items`"); read as what it says, it is the documented
//! error: `internal` is retried like a 500, `rate_limited` slows down like a 429, any other
//! tag is that tag's error variant at once.

use affiliate_http::{BodyVerdict, RequestHooks, StatusCode};

use crate::error::Envelope;

/// Classifies a success body that is Triport's error envelope rather than a page.
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct EnvelopeInSuccess;

impl RequestHooks for EnvelopeInSuccess {
    fn classify_body(&self, status: StatusCode, body: &[u8]) -> BodyVerdict {
        if !status.is_success() {
            return BodyVerdict::FollowStatus;
        }
        match error_tag(body).as_deref() {
            None => BodyVerdict::FollowStatus,
            Some("internal") => BodyVerdict::Retry,
            Some("rate_limited") => BodyVerdict::Throttled,
            Some(_) => BodyVerdict::Refused,
        }
    }
}

/// Envelopes are a tag and a sentence: a longer body is a page, and is not searched.
const MAX_ENVELOPE_BYTES: usize = 4096;

/// The envelope's tag, when `body` is an envelope (a page has no top-level `error`).
fn error_tag(body: &[u8]) -> Option<String> {
    if body.len() > MAX_ENVELOPE_BYTES {
        return None;
    }
    serde_json::from_slice::<Envelope>(body)
        .ok()
        .map(|e| e.error)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn verdict(body: &str) -> BodyVerdict {
        EnvelopeInSuccess.classify_body(StatusCode::OK, body.as_bytes())
    }

    #[test]
    fn envelopes_in_a_200_are_read_as_the_error_they_name() {
        assert_eq!(verdict(r#"{"error":"internal"}"#), BodyVerdict::Retry);
        assert_eq!(
            verdict(r#"{"error":"rate_limited"}"#),
            BodyVerdict::Throttled
        );
        assert_eq!(
            verdict(r#" {"error":"tier_insufficient","message":"upgrade"}"#),
            BodyVerdict::Refused
        );
    }

    #[test]
    fn pages_follow_their_status() {
        assert_eq!(verdict(r#"{"items":[]}"#), BodyVerdict::FollowStatus);
        let named_error = r#"{"items":[{"display_name":"\"error\""}]}"#;
        assert_eq!(verdict(named_error), BodyVerdict::FollowStatus);
        assert_eq!(verdict("not json"), BodyVerdict::FollowStatus);
    }
}
