//! Failures an emulator injects on purpose.

use std::collections::VecDeque;
use std::time::Duration;

use axum::body::Body;
use axum::http::{header, StatusCode};
use axum::response::Response;
use bytes::Bytes;

use crate::generate::hash;

/// One injected failure. How throttling, refusals and server errors look is up to each
/// emulator (each provider has its own envelope); the rest is rendered here.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Fault {
    /// The provider's throttling answer (HTTP 429, or CoinW's `29001` in a 200), with
    /// `Retry-After` seconds where the provider sends one.
    RateLimited {
        /// `Retry-After` value in seconds, if any.
        retry_after: Option<u64>,
    },
    /// A 5xx with the provider's internal-error body.
    ServerError(u16),
    /// A 200 whose body is not valid JSON (truncated mid-object).
    Malformed,
    /// Headers, part of the body, then the connection is cut.
    Reset,
    /// Answers normally after this delay (or the emulator's latency, if longer).
    Slow(Duration),
    /// A refusal in the provider's own error envelope at HTTP `status`: `code` is Triport's
    /// `error` tag (e.g. [`crate::triport::tier_insufficient`]), Prefactor's `code`, Census's
    /// `message`, CoinW's `code` (a number when it parses as one).
    Refused {
        /// HTTP status.
        status: u16,
        /// The provider's error code or tag.
        code: String,
    },
    /// An answer from something in front of the API (a proxy, a load balancer, a WAF): the
    /// status with an empty body, or with `html` a small `text/html` page; never the
    /// provider's envelope, never a `Retry-After` (e.g. a bare 401, 403 or 429).
    Bare {
        /// HTTP status.
        status: u16,
        /// An HTML page instead of an empty body.
        html: bool,
    },
    /// A success answer without its data: CoinW's `{"code":"200","msg":"success","data":null}`,
    /// or with `omitted` no `data` key at all. Only CoinW answers this way; the other
    /// emulators answer normally.
    NullData {
        /// Leave the `data` key out instead of sending `null`.
        omitted: bool,
    },
}

/// Which requests get which fault: a script for the next requests, then an optional
/// periodic or seeded-random fault.
#[derive(Debug, Clone, Default)]
pub struct FaultPlan {
    script: VecDeque<Fault>,
    every: Option<(u64, Fault)>,
    random: Option<(u32, u64, Vec<Fault>)>,
    served: u64,
}

impl FaultPlan {
    /// No faults.
    pub fn none() -> Self {
        Self::default()
    }

    /// The next request not yet faulted by the script gets `fault`.
    pub fn then(mut self, fault: Fault) -> Self {
        self.script.push_back(fault);
        self
    }

    /// Every `n`-th request (1-based: n, 2n, ...) gets `fault`, after the script.
    pub fn every(mut self, n: u64, fault: Fault) -> Self {
        self.every = Some((n.max(1), fault));
        self
    }

    /// Each request gets one of `faults` with probability `percent`/100, drawn from a seeded
    /// sequence (the same seed gives the same faults).
    pub fn random(mut self, percent: u32, seed: u64, faults: Vec<Fault>) -> Self {
        self.random = Some((percent.min(100), seed, faults));
        self
    }

    /// The fault for the next request, if any.
    pub fn next_fault(&mut self) -> Option<Fault> {
        self.served += 1;
        if let Some(fault) = self.script.pop_front() {
            return Some(fault);
        }
        if let Some((n, fault)) = &self.every {
            if self.served % n == 0 {
                return Some(fault.clone());
            }
        }
        if let Some((percent, seed, faults)) = &self.random {
            let roll = hash(*seed, self.served, 7);
            if !faults.is_empty() && roll % 100 < u64::from(*percent) {
                return Some(faults[((roll >> 8) % faults.len() as u64) as usize].clone());
            }
        }
        None
    }
}

/// A 200 with JSON that stops mid-object.
pub(crate) fn malformed() -> Response {
    Response::builder()
        .status(StatusCode::OK)
        .header(header::CONTENT_TYPE, "application/json")
        .body(Body::from("{\"items\": [{\"user_id\": \"3f8c"))
        .unwrap_or_default()
}

/// [`Fault::Bare`]: `status` with an empty body or a proxy's HTML page.
pub(crate) fn bare(status: u16, html: bool) -> Response {
    let status = StatusCode::from_u16(status).unwrap_or(StatusCode::BAD_GATEWAY);
    let builder = Response::builder().status(status);
    let response = if html {
        let reason = status.canonical_reason().unwrap_or("Error");
        let page = format!(
            "<html>\r\n<head><title>{code} {reason}</title></head>\r\n<body>\r\n<center><h1>{code} {reason}</h1></center>\r\n<hr><center>nginx</center>\r\n</body>\r\n</html>\r\n",
            code = status.as_u16()
        );
        builder
            .header(header::CONTENT_TYPE, "text/html")
            .body(Body::from(page))
    } else {
        builder.body(Body::empty())
    };
    response.unwrap_or_default()
}

/// Headers and a few bytes, then the connection breaks.
pub(crate) fn reset() -> Response {
    let chunks: Vec<Result<Bytes, std::io::Error>> = vec![
        Ok(Bytes::from_static(b"{\"items\": [")),
        Err(std::io::Error::new(
            std::io::ErrorKind::ConnectionReset,
            "sandbox: injected reset",
        )),
    ];
    Response::builder()
        .status(StatusCode::OK)
        .header(header::CONTENT_TYPE, "application/json")
        .body(Body::from_stream(futures::stream::iter(chunks)))
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn script_then_periodic() {
        let mut plan = FaultPlan::none()
            .then(Fault::Malformed)
            .every(3, Fault::ServerError(503));
        assert_eq!(plan.next_fault(), Some(Fault::Malformed));
        assert_eq!(plan.next_fault(), None);
        assert_eq!(plan.next_fault(), Some(Fault::ServerError(503)));
    }

    #[test]
    fn random_is_seeded() {
        let draw = || {
            let mut plan = FaultPlan::none().random(30, 42, vec![Fault::Reset]);
            (0..100)
                .map(|_| plan.next_fault().is_some())
                .collect::<Vec<_>>()
        };
        let a = draw();
        assert_eq!(a, draw());
        let hits = a.iter().filter(|x| **x).count();
        assert!((15..45).contains(&hits), "{hits}");
    }
}
