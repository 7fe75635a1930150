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
    /// Each `[[source]]`, read by its provider's configuration type once `provider` is
    /// known (through the registry: serde cannot combine `#[serde(flatten)]` with
    /// `deny_unknown_fields`, so the shared keys are split off first).
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
    /// The refresh interval: a duration, or `"never"`.
    pub(crate) refresh: Option<toml::Value>,
    /// Stop every source when one fails.
    pub(crate) fail_fast: Option<bool>,
    /// The longest one source may take: a duration, or `"none"`.
    pub(crate) deadline: Option<toml::Value>,
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
