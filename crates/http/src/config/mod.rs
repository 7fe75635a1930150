//! Configuring a source from a file: the keys every source shares ([`SourceSettings`]),
//! the trait each adapter's own configuration struct implements ([`SourceConfig`],
//! [`ProviderConfig`]), and the pieces they are checked with ([`Issues`], [`Env`]).
//!
//! An adapter's configuration is a `serde` struct with `deny_unknown_fields` holding only
//! that provider's keys; secrets appear in it only as names of environment variables
//! (`session_env = "TRIPORT_SESSION"`), read when the source is built.

mod env;
mod issue;

use affiliate_core::InviteeSource;
use serde::de::DeserializeOwned;
use serde::Deserialize;

pub use env::{Env, ProcessEnv};
pub use issue::{ConfigIssue, Issues};

use crate::{ensure_secure, parse_base_url, RateLimit, SourceBuilder};

/// Fastest fixed `rate_limit` a file may ask for, in requests per second.
pub const MAX_RATE_LIMIT: f64 = 1000.0;

/// The keys every source has besides its provider's own.
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
#[non_exhaustive]
pub struct SourceSettings {
    /// The account label rows are tagged with (default: the provider's choice, else
    /// `default`).
    pub label: Option<String>,
    /// Base URL override; without it the provider's `*_BASE_URL` variable, else production.
    pub base_url: Option<String>,
    /// A fixed client-side limit in requests per second, replacing the adapter's default
    /// adaptive rate.
    pub rate_limit: Option<f64>,
    /// A ceiling for the adapter's adaptive rate, in requests per second.
    pub max_rate: Option<f64>,
}

impl SourceSettings {
    /// The shared keys, as written in a file.
    pub const KEYS: [&'static str; 4] = ["label", "base_url", "rate_limit", "max_rate"];

    /// Every problem of the shared keys.
    pub fn check(&self) -> Vec<ConfigIssue> {
        let mut issues = Issues::new();
        if self.label.as_deref().is_some_and(|l| l.trim().is_empty()) {
            issues.push(ConfigIssue::new(
                "label",
                "must not be empty",
                "name the account, e.g. label = \"main\"",
            ));
        }
        if let Some(url) = &self.base_url {
            let secure = parse_base_url(url)
                .map_err(|e| e.to_string())
                .and_then(|u| ensure_secure(&u).map_err(|e| e.to_string()));
            issues.check(
                "base_url",
                secure,
                "use an https:// URL (plain http:// only to localhost/127.0.0.1), or remove base_url for the provider's production API",
            );
        }
        for (key, value) in [("rate_limit", self.rate_limit), ("max_rate", self.max_rate)] {
            if let Some(rate) = value {
                if !(rate.is_finite() && rate > 0.0 && rate <= MAX_RATE_LIMIT) {
                    issues.push(ConfigIssue::new(
                        key,
                        format!("must be a number of requests per second within (0, {MAX_RATE_LIMIT}] (got {rate})"),
                        format!("remove it to use the provider's adaptive default, or set e.g. {key} = 5"),
                    ));
                }
            }
        }
        if self.rate_limit.is_some() && self.max_rate.is_some() {
            issues.push(ConfigIssue::new(
                "max_rate",
                "cannot be combined with rate_limit (a fixed rate has no ceiling to adapt under)",
                "keep rate_limit for a fixed rate, or max_rate for an adaptive one under a ceiling",
            ));
        }
        issues.into_vec()
    }

    /// Applies the shared keys to an adapter's builder: the label (when given), the base
    /// URL (or the variable `base_url_env` when set), a fixed rate limit with a burst
    /// of about one second's worth, or a ceiling over the adapter's adaptive rate.
    pub fn apply<B: SourceBuilder>(&self, mut builder: B, base_url_env: &str, env: &dyn Env) -> B {
        if let Some(label) = &self.label {
            builder = builder.with_label(label);
        }
        if let Some(url) = self.base_url.clone().or_else(|| env.var(base_url_env)) {
            builder = builder.with_base_url(url);
        }
        if let Some(rate) = self.rate_limit {
            let burst = rate.ceil().clamp(1.0, MAX_RATE_LIMIT) as u32;
            builder = builder.with_rate_limit(RateLimit::new(rate, burst));
        }
        if let Some(ceiling) = self.max_rate {
            builder = builder.with_max_rate(ceiling);
        }
        builder
    }
}

/// A builder's result as a configuration result: its error (which a checked configuration
/// should not produce) becomes one problem of the whole source.
pub fn built<T, E: std::fmt::Display>(result: Result<T, E>) -> Result<T, Vec<ConfigIssue>> {
    result.map_err(|e| {
        vec![ConfigIssue::new(
            "",
            e.to_string(),
            "correct the source's settings",
        )]
    })
}

/// A key of an adapter's configuration that names the variable holding a secret.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SecretKey {
    /// The key (`session_env`).
    pub key: &'static str,
    /// The variable read when the key is absent (`TRIPORT_SESSION`).
    pub default_var: &'static str,
    /// What the variable holds, for messages.
    pub what: &'static str,
}

/// One source's configuration, checked and turned into a source (object safe, so a
/// registry can hold every provider's behind one type).
pub trait SourceConfig: std::fmt::Debug + Send + Sync {
    /// The label used when the file gives none (`None`: `default`).
    fn default_label(&self) -> Option<String> {
        None
    }

    /// Every problem found without the environment; keys are relative to the table.
    fn check(&self) -> Vec<ConfigIssue>;

    /// Reads the secrets from `env` and builds the source; every problem is reported.
    fn build(
        &self,
        settings: &SourceSettings,
        env: &dyn Env,
    ) -> Result<Box<dyn InviteeSource>, Vec<ConfigIssue>>;
}

/// What a registry needs to know of an adapter's configuration type.
pub trait ProviderConfig: SourceConfig + DeserializeOwned + 'static {
    /// `provider = "…"` in a file.
    const NAME: &'static str;
    /// The keys naming secret variables, with their defaults.
    const SECRETS: &'static [SecretKey];
}
