//! Configuring a [`TriportClient`].

use affiliate_core::{Provider, SourceId};
use affiliate_http::{ensure_secure, ClientConfig, HttpClient, RateLimit, Secret, Url};

use crate::{TriportClient, TriportError};

/// Triport's production API.
pub const DEFAULT_BASE_URL: &str = "https://api.triport.io";
/// Rows per page by default: the documented maximum.
pub const DEFAULT_LIMIT: u32 = 200;
/// Largest `limit` Triport honours; a larger one silently falls back to 50 rows.
pub const MAX_LIMIT: u32 = 200;

/// Builds a [`TriportClient`]; nothing is validated until [`TriportBuilder::build`].
///
/// ```
/// use affiliate_triport::TriportBuilder;
/// let err = TriportBuilder::new().with_session("s").with_limit(201).build().unwrap_err();
/// assert!(err.to_string().contains("limit"));
/// ```
#[derive(Debug, Clone)]
pub struct TriportBuilder {
    base_url: String,
    label: String,
    session: Option<Secret>,
    admin_token: Option<Secret>,
    limit: u32,
    http: ClientConfig,
}

impl Default for TriportBuilder {
    fn default() -> Self {
        Self {
            base_url: DEFAULT_BASE_URL.to_owned(),
            label: "default".to_owned(),
            session: None,
            admin_token: None,
            limit: DEFAULT_LIMIT,
            // Triport documents a per-session RPS with 2x burst but no number: stay polite.
            http: ClientConfig::default().with_rate_limit(RateLimit::new(10.0, 20)),
        }
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
    /// Defaults: production base URL, `limit` 200, no credentials.
    pub fn new() -> Self {
        Self::default()
    }

    /// Reads `TRIPORT_SESSION`, `TRIPORT_ADMIN_TOKEN` and `TRIPORT_BASE_URL` when set.
    pub fn from_env() -> Self {
        let mut builder = Self::new();
        if let Ok(session) = Secret::from_env("TRIPORT_SESSION") {
            builder = builder.with_session(session);
        }
        if let Ok(token) = Secret::from_env("TRIPORT_ADMIN_TOKEN") {
            builder.admin_token = Some(token);
        }
        if let Ok(url) = std::env::var("TRIPORT_BASE_URL") {
            if !url.is_empty() {
                builder.base_url = url;
            }
        }
        builder
    }

    /// Overrides the base URL (a sandbox, a proxy, staging).
    pub fn with_base_url(mut self, url: impl Into<String>) -> Self {
        self.base_url = url.into();
        self
    }

    /// The account label records are tagged with.
    pub fn with_label(mut self, label: impl Into<String>) -> Self {
        self.label = label.into();
        self
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

    /// Transport settings (timeouts, retries, rate limit).
    pub fn with_client_config(mut self, config: ClientConfig) -> Self {
        self.http = config;
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
        let base_url = Url::parse(&self.base_url)
            .map_err(|e| TriportError::Config(format!("base URL {:?}: {e}", self.base_url)))?;
        if self.session.is_some() || self.admin_token.is_some() {
            ensure_secure(&base_url).map_err(|e| TriportError::Config(e.to_string()))?;
        }
        let http = HttpClient::new("triport", self.http)?;
        Ok(TriportClient {
            id: SourceId::new(Provider::Triport, self.label),
            base_url,
            session: self.session,
            admin_token: self.admin_token,
            limit: self.limit,
            http,
        })
    }
}
