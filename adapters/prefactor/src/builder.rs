//! Configuring a [`PrefactorClient`].

use affiliate_core::{Provider, SourceId};
use affiliate_http::{ensure_secure, ClientConfig, HttpClient, RateLimit, Secret, Url};

use crate::{PrefactorClient, PrefactorError, Sorting};

/// Prefactor's production host (the CLI's `DEFAULT_BASE_URL`); paths live under `/api/v1`.
pub const DEFAULT_BASE_URL: &str = "https://app.prefactorai.com";
/// Rows per page by default: the documented maximum.
pub const DEFAULT_PAGE_SIZE: u32 = 100;
/// Largest `pagination[page_size]` Prefactor documents.
pub const MAX_PAGE_SIZE: u32 = 100;
/// The sorting sent by default: ascending PFID, which is creation order.
pub const DEFAULT_SORTING: &str = "id";
/// Longest idempotency key accepted (the official TypeScript SDK's cap).
pub const MAX_IDEMPOTENCY_KEY: usize = 64;

/// Builds a [`PrefactorClient`]; nothing is validated until [`PrefactorBuilder::build`].
///
/// ```
/// use affiliate_prefactor::PrefactorBuilder;
///
/// let client = PrefactorBuilder::new()
///     .with_token("pf_token")
///     .with_account_id("013xrzp12g3nqk8ngskn1wtxgka5b0nf")
///     .with_sorting("-id")
///     .with_page_size(50)
///     .build()
///     .unwrap();
/// // The account id doubles as the source's account label.
/// assert_eq!(client.id().account, "013xrzp12g3nqk8ngskn1wtxgka5b0nf");
/// assert!(!format!("{client:?}").contains("pf_token"));
///
/// let err = PrefactorBuilder::new().with_token("t").with_page_size(101).build().unwrap_err();
/// assert!(err.to_string().contains("page_size"));
/// ```
#[derive(Debug, Clone)]
pub struct PrefactorBuilder {
    base_url: String,
    label: Option<String>,
    token: Option<Secret>,
    account_id: Option<String>,
    sorting: String,
    page_size: u32,
    idempotency_key: Option<String>,
    http: ClientConfig,
}

impl Default for PrefactorBuilder {
    fn default() -> Self {
        Self {
            base_url: DEFAULT_BASE_URL.to_owned(),
            label: None,
            token: None,
            account_id: None,
            sorting: DEFAULT_SORTING.to_owned(),
            page_size: DEFAULT_PAGE_SIZE,
            idempotency_key: None,
            // Prefactor documents no rate limit; its SDKs retry 429s. Stay polite.
            http: ClientConfig::default().with_rate_limit(RateLimit::new(10.0, 20)),
        }
    }
}

impl PrefactorBuilder {
    /// Defaults: production base URL, sorting `id`, page size 100, no token.
    pub fn new() -> Self {
        Self::default()
    }

    /// Reads `PREFACTOR_TOKEN`, `PREFACTOR_BASE_URL` and `PREFACTOR_ACCOUNT_ID` when set.
    pub fn from_env() -> Self {
        let mut builder = Self::new();
        if let Ok(token) = Secret::from_env("PREFACTOR_TOKEN") {
            builder.token = Some(token);
        }
        if let Some(url) = non_empty_env("PREFACTOR_BASE_URL") {
            builder.base_url = url;
        }
        if let Some(account) = non_empty_env("PREFACTOR_ACCOUNT_ID") {
            builder.account_id = Some(account);
        }
        builder
    }

    /// Overrides the base URL (a sandbox, a proxy, another deployment). Paths are appended
    /// under `/api/v1`.
    pub fn with_base_url(mut self, url: impl Into<String>) -> Self {
        self.base_url = url.into();
        self
    }

    /// The account label records are tagged with. Defaults to the account id when one is
    /// set, otherwise `default`.
    pub fn with_label(mut self, label: impl Into<String>) -> Self {
        self.label = Some(label.into());
        self
    }

    /// The API token sent as `Authorization: Bearer …`.
    pub fn with_token(mut self, token: impl Into<Secret>) -> Self {
        self.token = Some(token.into());
        self
    }

    /// The account whose invites to list (sent as `account_id`). Without it Prefactor
    /// uses the token's own account.
    pub fn with_account_id(mut self, account_id: impl Into<String>) -> Self {
        self.account_id = Some(account_id.into());
        self
    }

    /// The `sorting` parameter: a field name, `-field` for descending (default `id`).
    ///
    /// Ascending `id` (or `inserted_at`) is creation order: new invites land at the end, and
    /// the listing ends by re-reading it. Other orders are walked without that re-read.
    pub fn with_sorting(mut self, sorting: impl Into<String>) -> Self {
        self.sorting = sorting.into();
        self
    }

    /// Rows per page, 1..=100 (checked by [`PrefactorBuilder::build`]).
    pub fn with_page_size(mut self, page_size: u32) -> Self {
        self.page_size = page_size;
        self
    }

    /// An `idempotency_key` query parameter sent with every request (at most 64
    /// characters). The endpoint accepts one, but a GET is idempotent anyway: leave it
    /// unset unless a proxy in between asks for it.
    pub fn with_idempotency_key(mut self, key: impl Into<String>) -> Self {
        self.idempotency_key = Some(key.into());
        self
    }

    /// Transport settings (timeouts, retries, rate limit).
    pub fn with_client_config(mut self, config: ClientConfig) -> Self {
        self.http = config;
        self
    }

    /// Validates and builds. Fails without a token, on a page size outside 1..=100, a
    /// malformed sorting, an empty account id or idempotency key (or one over 64
    /// characters), an unparsable base URL, or a plain-HTTP, non-loopback base URL.
    pub fn build(self) -> Result<PrefactorClient, PrefactorError> {
        let Some(token) = self.token else {
            return Err(PrefactorError::MissingCredential(
                "Prefactor API token (PREFACTOR_TOKEN)",
            ));
        };
        if !(1..=MAX_PAGE_SIZE).contains(&self.page_size) {
            return Err(PrefactorError::Config(format!(
                "page_size must be within 1..={MAX_PAGE_SIZE} (got {})",
                self.page_size
            )));
        }
        let sorting = Sorting::parse(&self.sorting).ok_or_else(|| {
            PrefactorError::Config(format!(
                "sorting {:?} is not a field name (optionally prefixed with '-')",
                self.sorting
            ))
        })?;
        if let Some(account) = &self.account_id {
            if account.is_empty() || !account.chars().all(|c| c.is_ascii_alphanumeric()) {
                return Err(PrefactorError::Config(format!(
                    "account_id {account:?} is not a Prefactor id"
                )));
            }
        }
        if let Some(key) = &self.idempotency_key {
            if key.is_empty() || key.chars().count() > MAX_IDEMPOTENCY_KEY {
                return Err(PrefactorError::Config(format!(
                    "idempotency_key must be 1..={MAX_IDEMPOTENCY_KEY} characters"
                )));
            }
        }
        let base_url = Url::parse(&self.base_url)
            .map_err(|e| PrefactorError::Config(format!("base URL {:?}: {e}", self.base_url)))?;
        ensure_secure(&base_url).map_err(|e| PrefactorError::Config(e.to_string()))?;
        let label = self
            .label
            .or_else(|| self.account_id.clone())
            .unwrap_or_else(|| "default".to_owned());
        let http = HttpClient::new("prefactor", self.http)?;
        Ok(PrefactorClient {
            id: SourceId::new(Provider::Prefactor, label),
            base_url,
            token,
            account_id: self.account_id,
            sorting,
            page_size: self.page_size,
            idempotency_key: self.idempotency_key,
            http,
        })
    }
}

fn non_empty_env(name: &str) -> Option<String> {
    std::env::var(name).ok().filter(|v| !v.is_empty())
}
