//! The file's shape, as serde reads it. Every table refuses keys it does not know
//! (`deny_unknown_fields`), so a typo is an error naming the key, never a silent default.
//! Values are checked and turned into settings by the parent module.

use serde::de::IgnoredAny;
use serde::Deserialize;

/// The top level: `[sync]`, `[output]` and the `[[source]]` tables (read per provider).
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawFile {
    /// `[sync]`.
    #[serde(default)]
    pub(crate) sync: RawSync,
    /// `[output]`.
    #[serde(default)]
    pub(crate) output: RawOutput,
    /// Each `[[source]]`, read by [`RawTriport`] & co. once its `provider` is known.
    /// (Each provider has its own struct rather than one with `#[serde(flatten)]`, which
    /// serde cannot combine with `deny_unknown_fields`.)
    #[serde(default)]
    pub(crate) source: Vec<toml::Table>,
}

/// `[sync]`: how runs behave.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawSync {
    /// `full` or `incremental`.
    pub(crate) mode: Option<String>,
    /// A duration (`"1h"`, `"30m"`) or whole seconds.
    pub(crate) overlap: Option<toml::Value>,
    /// Stop every source when one fails.
    pub(crate) fail_fast: Option<bool>,
    /// `keep`, `hash` or `drop`.
    pub(crate) email: Option<String>,
    /// The environment variable holding the salt of `email = "hash"`.
    pub(crate) email_salt_env: Option<String>,
    /// Refused: a literal salt.
    pub(crate) email_salt: Option<IgnoredAny>,
}

/// `[output]`: where rows go when `--out` is not given.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawOutput {
    /// `sqlite://PATH`, `ndjson:PATH`, `csv:PATH`, `-` or `postgres://…`.
    pub(crate) url: Option<String>,
    /// The environment variable holding the URL (for URLs with a password).
    pub(crate) url_env: Option<String>,
    /// PostgreSQL schema for the tables.
    pub(crate) schema: Option<String>,
}

/// `provider = "triport"`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawTriport {
    /// `provider`, checked before the table is read.
    #[serde(rename = "provider")]
    pub(crate) _provider: IgnoredAny,
    /// The account label rows are tagged with.
    pub(crate) label: Option<String>,
    /// Base URL override.
    pub(crate) base_url: Option<String>,
    /// Client-side requests per second.
    pub(crate) rate_limit: Option<f64>,
    /// Rows per page, 1..=200.
    pub(crate) limit: Option<i64>,
    /// Variable holding the `nl_session` cookie.
    pub(crate) session_env: Option<String>,
    /// Variable holding the operator token.
    pub(crate) admin_token_env: Option<String>,
}

/// `provider = "coinw"`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawCoinw {
    /// `provider`, checked before the table is read.
    #[serde(rename = "provider")]
    pub(crate) _provider: IgnoredAny,
    /// The account label rows are tagged with.
    pub(crate) label: Option<String>,
    /// Base URL override.
    pub(crate) base_url: Option<String>,
    /// Client-side requests per second.
    pub(crate) rate_limit: Option<f64>,
    /// The offset CoinW's times are in (required).
    pub(crate) utc_offset: Option<String>,
    /// A date (in the provider's offset) or an instant.
    pub(crate) since: Option<toml::Value>,
    /// `"1 month"`, `"7 days"`, ...
    pub(crate) window: Option<String>,
    /// Rows per page, 1..=1000.
    pub(crate) page_size: Option<i64>,
    /// Only this invitee.
    pub(crate) uid: Option<toml::Value>,
    /// Only users registered with this code.
    pub(crate) referral_code: Option<String>,
    /// Rows above which a window is split while planning; 0 reads windows whole, unprobed.
    pub(crate) split_cap: Option<i64>,
    /// Variable holding the API key.
    pub(crate) api_key_env: Option<String>,
    /// Variable holding the secret key.
    pub(crate) secret_key_env: Option<String>,
}

/// `provider = "prefactor"`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawPrefactor {
    /// `provider`, checked before the table is read.
    #[serde(rename = "provider")]
    pub(crate) _provider: IgnoredAny,
    /// The account label rows are tagged with.
    pub(crate) label: Option<String>,
    /// Base URL override.
    pub(crate) base_url: Option<String>,
    /// Client-side requests per second.
    pub(crate) rate_limit: Option<f64>,
    /// The account whose invites to list.
    pub(crate) account_id: Option<String>,
    /// `id`, `-id`, ...
    pub(crate) sorting: Option<String>,
    /// Rows per page, 1..=100.
    pub(crate) page_size: Option<i64>,
    /// Variable holding the API token.
    pub(crate) token_env: Option<String>,
}

/// `provider = "census"`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawCensus {
    /// `provider`, checked before the table is read.
    #[serde(rename = "provider")]
    pub(crate) _provider: IgnoredAny,
    /// The account label rows are tagged with.
    pub(crate) label: Option<String>,
    /// Base URL override.
    pub(crate) base_url: Option<String>,
    /// Client-side requests per second.
    pub(crate) rate_limit: Option<f64>,
    /// `us` or `eu`.
    pub(crate) region: Option<String>,
    /// `asc` or `desc`.
    pub(crate) order: Option<String>,
    /// Rows per page, 1..=100.
    pub(crate) per_page: Option<i64>,
    /// Variable holding the personal access token.
    pub(crate) token_env: Option<String>,
}
