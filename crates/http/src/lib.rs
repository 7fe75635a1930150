//! # affiliate-http
//!
//! The one transport every `affiliate` adapter uses, so retry, throttling and secret
//! handling are written once:
//!
//! * [`HttpClient`]: reqwest over rustls, per-request timeout, response size cap, no
//!   redirects (credentials never follow one), a `tracing` span per attempt;
//! * [`RetryConfig`]: plain data with documented defaults; [`classify_status`] is the pure
//!   decision table (408/429/5xx retry); `Retry-After` in seconds or HTTP-date form
//!   ([`parse_retry_after`]) is honoured, capped and counted against the total retry time;
//!   otherwise exponential backoff with full jitter;
//! * [`RequestHooks`]: re-signs every attempt and lets an adapter classify an error hidden
//!   in a 200 body;
//! * [`RateLimiter`]: a token bucket shared by every request of one credential;
//! * [`Secret`]: a string whose `Debug`/`Display` never show it; [`ensure_secure`] refuses
//!   to send credentials over plain `http://` except to loopback.
//!
//! ```no_run
//! use affiliate_http::{ClientConfig, HttpClient, NoHooks, RequestSpec};
//!
//! # async fn run() -> Result<(), affiliate_http::TransportError> {
//! let client = HttpClient::new("example", ClientConfig::default())?;
//! let url = url::Url::parse("https://api.example.com/v1/items?limit=10").unwrap();
//! let exchange = client.execute(&RequestSpec::get(url), &NoHooks).await?;
//! println!("{} after {} attempt(s)", exchange.status, exchange.attempts);
//! # Ok(()) }
//! ```
#![warn(missing_docs, missing_debug_implementations, unreachable_pub)]
#![deny(rustdoc::broken_intra_doc_links)]

mod backoff;
mod client;
mod decode;
mod endpoint;
mod error;
mod guard;
mod hooks;
mod rate_limit;
mod request;
mod retry;
mod retry_after;
mod secret;

pub use backoff::BackoffConfig;
pub use client::{ClientConfig, Exchange, Failure, HttpClient, ResponseError, Settled, Success};
pub use decode::{decode_json, snippet, DecodeError};
pub use endpoint::{endpoint, Query};
pub use error::{TransportError, TransportErrorKind};
pub use guard::{ensure_secure, is_loopback, InsecureUrl};
pub use hooks::{BodyVerdict, HookError, NoHooks, RequestHooks};
pub use rate_limit::{RateLimit, RateLimiter};
pub use request::RequestSpec;
pub use retry::{classify_status, RetryConfig, Verdict};
pub use retry_after::parse_retry_after;
pub use secret::{MissingEnvVar, Secret};

pub use reqwest::header::{HeaderMap, HeaderName, HeaderValue};
pub use reqwest::{Method, StatusCode};
pub use url::Url;
