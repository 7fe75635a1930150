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
//! * [`RatePolicy`] + [`RateLimiter`]: one rate per credential, adaptive by default
//!   ([`AdaptiveRate`]: slow start, then CUBIC on 429/503/throttling bodies), honouring
//!   `Retry-After` and `RateLimit-*`/`X-RateLimit-*` quota headers for every request;
//! * [`Secret`]: a string whose `Debug`/`Display` never show it; [`ensure_secure`] refuses
//!   to send credentials over plain `http://` except to loopback.
//!
//! * [`Connection`] + [`SourceBuilder`]: the base URL, label and transport setters every
//!   adapter builder shares; [`config`]: the keys every configured source shares and the
//!   trait an adapter's configuration struct implements.
//!
//! An adapter reaches the network through one call, [`HttpClient::get_json`], which
//! returns the decoded body or a [`SourceError`](affiliate_core::SourceError) naming the
//! provider, the request and the cause:
//!
//! ```no_run
//! use affiliate_core::{AdapterError, ErrorKind, Provider};
//! use affiliate_http::*;
//!
//! /// An adapter's error enum (one variant per documented error in a real adapter).
//! #[derive(Debug, thiserror::Error)]
//! enum ExampleError {
//!     #[error("HTTP {0}")]
//!     Status(u16),
//!     #[error(transparent)]
//!     Decode(#[from] DecodeError),
//!     #[error(transparent)]
//!     Transport(#[from] TransportError),
//! }
//! impl AdapterError for ExampleError {
//!     fn kind(&self) -> ErrorKind {
//!         ErrorKind::Other
//!     }
//! }
//! impl ResponseError for ExampleError {
//!     fn from_response(exchange: &Exchange) -> Self {
//!         ExampleError::Status(exchange.status.as_u16())
//!     }
//! }
//!
//! # async fn run() -> Result<(), affiliate_core::SourceError> {
//! let client = HttpClient::new(Provider::Other("example".into()), ClientConfig::default())
//!     .expect("a TLS backend");
//! let url = Url::parse("https://api.example.com/v1/items?limit=10").unwrap();
//! let page = client
//!     .get_json::<serde_json::Value, ExampleError>(&RequestSpec::get(url), &NoHooks)
//!     .await?;
//! println!("{} after {} attempt(s)", page.value, page.attempts);
//! # Ok(()) }
//! ```
#![warn(missing_docs, missing_debug_implementations, unreachable_pub)]
#![deny(rustdoc::broken_intra_doc_links)]

mod backoff;
mod client;
mod client_config;
pub mod config;
mod connection;
mod decode;
mod endpoint;
mod error;
mod guard;
mod hooks;
mod rate;
mod request;
mod retry;
mod retry_after;
mod secret;

pub use backoff::{BackoffConfig, Jitter};
pub use client::{Exchange, Fetched, HttpClient, ResponseError};
pub use client_config::ClientConfig;
pub use connection::{parse_base_url, ConnectError, Connected, Connection, SourceBuilder};
pub use decode::{decode_json, snippet, DecodeError};
pub use endpoint::{endpoint, Query};
pub use error::{TransportError, TransportErrorKind};
pub use guard::{ensure_secure, is_loopback, InsecureUrl};
pub use hooks::{BodyVerdict, HookError, NoHooks, RequestHooks};
pub use rate::{AdaptiveRate, RateLimit, RateLimiter, RatePolicy, RateStats};
pub use request::RequestSpec;
pub use retry::{classify_status, RetryConfig, Verdict};
pub use retry_after::parse_retry_after;
pub use secret::Secret;

pub use reqwest::header::{HeaderMap, HeaderName, HeaderValue};
pub use reqwest::{Method, StatusCode};
pub use url::Url;
