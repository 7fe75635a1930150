//! Configuring a [`PrefactorClient`].

use std::sync::Arc;

use affiliate_core::Provider;
use affiliate_http::config::{Env, ProcessEnv};
use affiliate_http::{AdaptiveRate, ClientConfig, Connection, Secret, SourceBuilder};

use crate::client::Shared;
use crate::config::{ACCOUNT_ID_ENV, BASE_URL_ENV, TOKEN_ENV};
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
/// use affiliate_prefactor::{PrefactorBuilder, SourceBuilder};
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
/// let labelled = PrefactorBuilder::new().with_token("t").with_label("acme").build().unwrap();
/// assert_eq!(labelled.id().account, "acme");
/// assert!(!format!("{client:?}").contains("pf_token"));
///
/// let err = PrefactorBuilder::new().with_token("t").with_page_size(101).build().unwrap_err();
/// assert!(err.to_string().contains("page_size"));
/// ```
#[derive(Debug, Clone)]
pub struct PrefactorBuilder {
    connection: Connection,
    token: Option<Secret>,
    account_id: Option<String>,
    sorting: String,
    page_size: u32,
    idempotency_key: Option<String>,
}

/// The transport settings a Prefactor client starts with: Prefactor documents no rate
/// limit (its SDKs retry 429s), so the adaptive rate ([`affiliate_http::AdaptiveRate`])
/// learns it: from 20 requests/s up while answers are healthy, cut to 0.7× on a 429 or 503.
pub fn default_client_config() -> ClientConfig {
    ClientConfig::default().with_adaptive_rate(AdaptiveRate::default())
}

impl Default for PrefactorBuilder {
    fn default() -> Self {
        Self {
            connection: Connection::new(DEFAULT_BASE_URL, default_client_config()),
            token: None,
            account_id: None,
            sorting: DEFAULT_SORTING.to_owned(),
            page_size: DEFAULT_PAGE_SIZE,
            idempotency_key: None,
        }
    }
}

impl SourceBuilder for PrefactorBuilder {
    fn connection(&mut self) -> &mut Connection {
        &mut self.connection
    }
}

impl PrefactorBuilder {
    /// Defaults: production base URL, sorting `id`, page size 100,
    /// [`default_client_config`], no token. Paths are appended to the base URL under
    /// `/api/v1`; records are labelled with the account id unless a label is set.
    pub fn new() -> Self {
        Self::default()
    }

    /// Reads `PREFACTOR_TOKEN`, `PREFACTOR_BASE_URL` and `PREFACTOR_ACCOUNT_ID` when set.
    pub fn from_env() -> Self {
        let env = ProcessEnv;
        let mut builder = Self::new();
        if let Some(token) = env.var(TOKEN_ENV) {
            builder = builder.with_token(token);
        }
        if let Some(url) = env.var(BASE_URL_ENV) {
            builder = builder.with_base_url(url);
        }
        if let Some(account) = env.var(ACCOUNT_ID_ENV) {
            builder = builder.with_account_id(account);
        }
        builder
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

    /// An `idempotency_key` base (at most 64 characters): each page request sends it with
    /// the page's offset and size appended (`key-200-100`, shortened to 64 characters), so
    /// no two pages share a key and a retry reuses its request's. The endpoint accepts a
    /// key, but a GET is idempotent anyway: leave it unset unless a proxy asks for one.
    pub fn with_idempotency_key(mut self, key: impl Into<String>) -> Self {
        self.idempotency_key = Some(key.into());
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
        let label = self.account_id.as_deref().unwrap_or("default");
        let connected = self.connection.open(Provider::Prefactor, label, true)?;
        Ok(PrefactorClient {
            shared: Arc::new(Shared {
                id: connected.id,
                base_url: connected.base_url,
                token,
                account_id: self.account_id,
                sorting,
                page_size: self.page_size,
                idempotency_key: self.idempotency_key,
                http: connected.http,
            }),
        })
    }
}
