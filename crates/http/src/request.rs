//! A request described once and sent as many times as retries need.

use reqwest::header::{HeaderMap, HeaderName, HeaderValue};
use reqwest::Method;
use url::Url;

use crate::Secret;

/// Method, URL and headers of one logical request, plus a label safe to log.
///
/// The URL (with its query) is built once, so signing and sending use the same bytes.
#[derive(Debug, Clone)]
pub struct RequestSpec {
    /// HTTP method.
    pub method: Method,
    /// Full URL including the query.
    pub url: Url,
    /// Headers sent on every attempt.
    pub headers: HeaderMap,
    /// Whether the request carries credentials (refused over plain HTTP off loopback).
    pub carries_credentials: bool,
}

impl RequestSpec {
    /// A GET of `url` without credentials.
    pub fn get(url: Url) -> Self {
        Self {
            method: Method::GET,
            url,
            headers: HeaderMap::new(),
            carries_credentials: false,
        }
    }

    /// Adds a plain header.
    pub fn header(mut self, name: HeaderName, value: HeaderValue) -> Self {
        self.headers.insert(name, value);
        self
    }

    /// Adds a credential header (marked sensitive, so it never shows in debug output).
    /// A value that is not a valid header value is reported by [`RequestSpec::secret_header`]'s
    /// caller as a configuration error.
    pub fn secret_header(
        mut self,
        name: HeaderName,
        value: &Secret,
    ) -> Result<Self, reqwest::header::InvalidHeaderValue> {
        let mut value = HeaderValue::from_str(value.expose())?;
        value.set_sensitive(true);
        self.headers.insert(name, value);
        self.carries_credentials = true;
        Ok(self)
    }

    /// Adds `Authorization: Bearer <token>` (marked sensitive).
    pub fn bearer_auth(self, token: &Secret) -> Result<Self, reqwest::header::InvalidHeaderValue> {
        let value = Secret::new(format!("Bearer {}", token.expose()));
        self.secret_header(reqwest::header::AUTHORIZATION, &value)
    }

    /// Marks the request as credentialed when hooks add the credentials per attempt.
    pub fn with_credentials(mut self) -> Self {
        self.carries_credentials = true;
        self
    }

    /// `GET /path?query`: what logs and errors show. Adapters never put secrets in queries.
    pub fn label(&self) -> String {
        match self.url.query() {
            Some(q) => format!("{} {}?{}", self.method, self.url.path(), q),
            None => format!("{} {}", self.method, self.url.path()),
        }
    }
}
