//! Configuring a [`TriportClient`].

use std::sync::Arc;
use std::time::Duration;

use affiliate_core::Provider;
use affiliate_http::config::{Env, ProcessEnv};
use affiliate_http::{AdaptiveRate, ClientConfig, Connection, Secret, SourceBuilder};

use crate::client::Shared;
use crate::config::{ADMIN_TOKEN_ENV, BASE_URL_ENV, SESSION_ENV};
use crate::{TriportClient, TriportError};

/// Triport's production API.
pub const DEFAULT_BASE_URL: &str = "https://api.triport.io";
/// Rows per page by default: the documented maximum.
pub const DEFAULT_LIMIT: u32 = 200;
/// Largest `limit` Triport honours; a larger one silently falls back to 50 rows.
pub const MAX_LIMIT: u32 = 200;

/// The transport settings a Triport client starts with: Triport documents a per-session
/// rate with a 2× burst but no number, and answers beyond it with 429 `rate_limited` and
/// `Retry-After: 1`, so the adaptive rate ([`affiliate_http::AdaptiveRate`]) learns it:
/// from 20 requests/s up while answers are healthy, cut to 0.7× on a 429, every request of
/// the session held back for the `Retry-After`. Since each throttle costs a second of
/// silence, the climb back to the throttled rate takes 12 s instead of 4, so throttles stay
/// rare (measured in BENCHMARKS.md).
pub fn default_client_config() -> ClientConfig {
    ClientConfig::default()
        .with_adaptive_rate(AdaptiveRate::default().with_recovery(Duration::from_secs(12)))
}

/// Builds a [`TriportClient`]; nothing is validated until [`TriportBuilder::build`]. The
/// base URL, label, rate limit, retries and timeout are set through [`SourceBuilder`].
///
/// ```
/// use affiliate_triport::{SourceBuilder, TriportBuilder};
/// let err = TriportBuilder::new().with_session("s").with_limit(201).build().unwrap_err();
/// assert!(err.to_string().contains("limit"));
/// ```
#[derive(Debug, Clone)]
pub struct TriportBuilder {
    connection: Connection,
    session: Option<Secret>,
    admin_token: Option<Secret>,
    limit: u32,
}

impl Default for TriportBuilder {
    fn default() -> Self {
        Self {
            connection: Connection::new(DEFAULT_BASE_URL, default_client_config()),
            session: None,
            admin_token: None,
            limit: DEFAULT_LIMIT,
        }
    }
}

impl SourceBuilder for TriportBuilder {
    fn connection(&mut self) -> &mut Connection {
        &mut self.connection
    }
}

/// The cookie's value, without a leading `nl_session=` someone copied from a browser.
fn cookie_value(session: Secret) -> Secret {
    match session.expose().trim().strip_prefix("nl_session=") {
        Some(value) => Secret::new(value),
        None => Secret::new(session.expose().trim()),
    }
}

impl TriportBuilder {
    /// Defaults: production base URL, `limit` 200, [`default_client_config`], no
    /// credentials.
    pub fn new() -> Self {
        Self::default()
    }

    /// Reads `TRIPORT_SESSION`, `TRIPORT_ADMIN_TOKEN` and `TRIPORT_BASE_URL` when set.
    pub fn from_env() -> Self {
        let env = ProcessEnv;
        let mut builder = Self::new();
        if let Some(session) = env.var(SESSION_ENV) {
            builder = builder.with_session(session);
        }
        if let Some(token) = env.var(ADMIN_TOKEN_ENV) {
            builder = builder.with_admin_token(token);
        }
        if let Some(url) = env.var(BASE_URL_ENV) {
            builder = builder.with_base_url(url);
        }
        builder
    }

    /// The value of the console session cookie `nl_session` (needed for invitees). A value
    /// pasted with its name (`nl_session=…`) is accepted too.
    pub fn with_session(mut self, session: impl Into<Secret>) -> Self {
        self.session = Some(cookie_value(session.into()));
        self
    }

    /// The operator token sent as `X-Admin-Token` (needed for [`TriportClient::get_user`]).
    pub fn with_admin_token(mut self, token: impl Into<Secret>) -> Self {
        self.admin_token = Some(token.into());
        self
    }

    /// Rows per page, 1..=200 (checked by [`TriportBuilder::build`]).
    pub fn with_limit(mut self, limit: u32) -> Self {
        self.limit = limit;
        self
    }

    /// Validates and builds. Fails on a limit outside 1..=200, an unparsable base URL, or
    /// credentials configured for a plain-HTTP, non-loopback URL.
    pub fn build(self) -> Result<TriportClient, TriportError> {
        if !(1..=MAX_LIMIT).contains(&self.limit) {
            return Err(TriportError::Config(format!(
                "limit must be within 1..={MAX_LIMIT} (got {}); Triport silently answers an out-of-range limit with 50 rows",
                self.limit
            )));
        }
        let credentials = self.session.is_some() || self.admin_token.is_some();
        let connected = self
            .connection
            .open(Provider::Triport, "default", credentials)?;
        Ok(TriportClient {
            shared: Arc::new(Shared {
                id: connected.id,
                base_url: connected.base_url,
                session: self.session,
                admin_token: self.admin_token,
                limit: self.limit,
                http: connected.http,
            }),
        })
    }
}
