//! What every adapter's builder shares: where requests go, the account label, and the
//! transport settings layered on the adapter's own tuned defaults.

use std::fmt;
use std::time::Duration;

use affiliate_core::{Provider, SourceId};
use url::Url;

use crate::{
    ensure_secure, AdaptiveRate, ClientConfig, HttpClient, RateLimit, RatePolicy, RetryConfig,
    TransportError,
};

/// The connection part of an adapter's builder. Each adapter starts it from its own
/// production URL and tuned [`ClientConfig`]; [`SourceBuilder`]'s setters change one
/// field at a time, so a caller who only lowers the rate limit keeps the adapter's retry
/// policy.
#[derive(Clone)]
pub struct Connection {
    default_base_url: String,
    base_url: Option<String>,
    label: Option<String>,
    client: ClientConfig,
}

impl fmt::Debug for Connection {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Connection")
            .field(
                "default_base_url",
                &without_userinfo(&self.default_base_url),
            )
            .field("base_url", &self.base_url.as_deref().map(without_userinfo))
            .field("label", &self.label)
            .field("client", &self.client)
            .finish()
    }
}

/// `text` with whatever sits before an `@` in its authority (`user:password@`) replaced by
/// `****`, parseable or not: a URL as it may be shown.
fn without_userinfo(text: &str) -> String {
    let Some(scheme_end) = text.find("://").map(|i| i + 3) else {
        return text.to_owned();
    };
    let rest = &text[scheme_end..];
    let authority_end = rest.find(['/', '?', '#']).unwrap_or(rest.len());
    match rest[..authority_end].rfind('@') {
        Some(at) => format!("{}****{}", &text[..scheme_end], &rest[at..]),
        None => text.to_owned(),
    }
}

/// The parts a built client is made of.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct Connected {
    /// Provider plus account label.
    pub id: SourceId,
    /// The parsed base URL.
    pub base_url: Url,
    /// The transport.
    pub http: HttpClient,
}

/// A connection that cannot be opened.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ConnectError {
    /// The base URL does not parse, or is not http(s).
    #[error("base URL {url:?}: {reason}")]
    BaseUrl {
        /// The URL as given.
        url: String,
        /// Why it was refused.
        reason: String,
    },
    /// Credentials would go over plain HTTP to a host that is not loopback.
    #[error(transparent)]
    Insecure(#[from] crate::InsecureUrl),
    /// The HTTP client could not be built.
    #[error(transparent)]
    Transport(#[from] TransportError),
}

impl Connection {
    /// A connection to `base_url` with the adapter's `client` settings and no label yet.
    pub fn new(base_url: &str, client: ClientConfig) -> Self {
        Self {
            default_base_url: base_url.to_owned(),
            base_url: None,
            label: None,
            client,
        }
    }

    /// Changes the URL used when no override is set (Census selects it by region).
    pub fn set_default_base_url(&mut self, url: &str) {
        url.clone_into(&mut self.default_base_url);
    }

    /// The account label records will be tagged with, when one was set.
    pub fn label(&self) -> Option<&str> {
        self.label.as_deref()
    }

    /// The transport settings in force.
    pub fn client_config(&self) -> &ClientConfig {
        &self.client
    }

    /// Parses the base URL (refusing plain HTTP off loopback when `credentials` will be
    /// sent) and builds the transport; records are labelled `default_label` unless a label
    /// was set.
    pub fn open(
        self,
        provider: Provider,
        default_label: &str,
        credentials: bool,
    ) -> Result<Connected, ConnectError> {
        let base_url = parse_base_url(self.base_url.as_ref().unwrap_or(&self.default_base_url))?;
        if credentials {
            ensure_secure(&base_url)?;
        }
        let http = HttpClient::new(provider.clone(), self.client)?;
        Ok(Connected {
            id: SourceId::new(provider, self.label.as_deref().unwrap_or(default_label)),
            base_url,
            http,
        })
    }
}

/// Parses an `http(s)://` base URL.
///
/// ```
/// assert!(affiliate_http::parse_base_url("https://api.triport.io").is_ok());
/// assert!(affiliate_http::parse_base_url("ftp://example.com").is_err());
/// let err = affiliate_http::parse_base_url("https://me:hunter2@api.triport.io").unwrap_err();
/// assert!(!err.to_string().contains("hunter2"));
/// ```
pub fn parse_base_url(text: &str) -> Result<Url, ConnectError> {
    let refuse = |reason: String| ConnectError::BaseUrl {
        url: without_userinfo(text),
        reason,
    };
    let url = Url::parse(text).map_err(|e| refuse(e.to_string()))?;
    if !url.username().is_empty() || url.password().is_some() {
        return Err(refuse(
            "a base URL may not carry a user or password (no provider reads them, and they would travel with every request)".into(),
        ));
    }
    match url.scheme() {
        "http" | "https" => Ok(url),
        other => Err(refuse(format!("{other}:// is not http(s)"))),
    }
}

/// The setters every adapter builder has, provided once: implement
/// [`SourceBuilder::connection`] and the rest comes for free.
///
/// ```
/// use std::time::Duration;
/// use affiliate_http::{ClientConfig, Connection, RateLimit, SourceBuilder};
///
/// struct Builder(Connection);
/// impl SourceBuilder for Builder {
///     fn connection(&mut self) -> &mut Connection {
///         &mut self.0
///     }
/// }
///
/// let tuned = ClientConfig::default().with_timeout(Duration::from_secs(5));
/// let mut b = Builder(Connection::new("https://api.example.com", tuned))
///     .with_label("main")
///     .with_rate_limit(RateLimit::new(2.0, 2));
/// assert_eq!(b.connection().label(), Some("main"));
/// // The adapter's other settings are kept.
/// assert_eq!(b.connection().client_config().timeout, Duration::from_secs(5));
/// ```
pub trait SourceBuilder: Sized {
    /// The builder's connection settings.
    fn connection(&mut self) -> &mut Connection;

    /// Overrides the base URL (a sandbox, a proxy, staging). Plain `http://` is accepted
    /// only to loopback when credentials are sent.
    fn with_base_url(mut self, url: impl Into<String>) -> Self {
        self.connection().base_url = Some(url.into());
        self
    }

    /// The account label records are tagged with (default `default`, or the adapter's
    /// choice, e.g. Prefactor's account id).
    fn with_label(mut self, label: impl Into<String>) -> Self {
        self.connection().label = Some(label.into());
        self
    }

    /// A fixed client-side rate limit, replacing the adapter's default adaptive rate.
    fn with_rate_limit(mut self, limit: RateLimit) -> Self {
        self.connection().client.rate = RatePolicy::Fixed(limit);
        self
    }

    /// Keeps the adapter's adaptive rate (or its defaults, when it had a fixed one) and never
    /// goes faster than `per_second`.
    fn with_max_rate(mut self, per_second: f64) -> Self {
        let client = &mut self.connection().client;
        let adaptive = match client.rate {
            RatePolicy::Adaptive(a) => a,
            RatePolicy::Fixed(_) | RatePolicy::Unlimited => AdaptiveRate::default(),
        };
        client.rate = RatePolicy::Adaptive(adaptive.with_ceiling(per_second));
        self
    }

    /// No client-side rate limit at all (tests against a local emulator); the server's
    /// `Retry-After` is still honoured.
    fn without_rate_limit(mut self) -> Self {
        self.connection().client.rate = RatePolicy::Unlimited;
        self
    }

    /// The retry policy, replacing the adapter's default.
    fn with_retry(mut self, retry: RetryConfig) -> Self {
        self.connection().client.retry = retry;
        self
    }

    /// The per-attempt timeout, replacing the adapter's default.
    fn with_timeout(mut self, timeout: Duration) -> Self {
        self.connection().client.timeout = timeout;
        self
    }

    /// The largest answer body read (default 16 MiB); a bigger one fails the request with
    /// a typed error instead of being held in memory.
    fn with_max_body_bytes(mut self, bytes: usize) -> Self {
        self.connection().client.max_body_bytes = bytes;
        self
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn userinfo_is_hidden_whether_the_url_parses_or_not() {
        assert_eq!(
            without_userinfo("https://u:pw@h.io/x@y"),
            "https://****@h.io/x@y"
        );
        assert_eq!(without_userinfo("https://u:p w@h io"), "https://****@h io");
        assert_eq!(without_userinfo("https://h.io/a@b"), "https://h.io/a@b");
        assert_eq!(without_userinfo("not a url"), "not a url");
    }
}
