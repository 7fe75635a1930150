//! `provider = "prefactor"` in a configuration file.

use affiliate_core::InviteeSource;
use affiliate_http::config::{
    built, ConfigIssue, Env, Issues, ProviderConfig, SecretKey, SourceConfig, SourceSettings,
};
use serde::Deserialize;

use crate::{PrefactorBuilder, Sorting, MAX_PAGE_SIZE};

/// The variable the API token is read from by default.
pub const TOKEN_ENV: &str = "PREFACTOR_TOKEN";
/// The variable a base-URL override is read from when the file gives none.
pub const BASE_URL_ENV: &str = "PREFACTOR_BASE_URL";
/// The variable [`PrefactorBuilder::from_env`] reads the account id from.
pub const ACCOUNT_ID_ENV: &str = "PREFACTOR_ACCOUNT_ID";

const TOKEN: SecretKey = SecretKey {
    key: "token_env",
    default_var: TOKEN_ENV,
    what: "the Prefactor API token",
};

/// Prefactor's own keys of a `[[source]]` (the shared ones are [`SourceSettings`]).
///
/// ```
/// use affiliate_http::config::SourceConfig;
/// use affiliate_prefactor::PrefactorConfig;
///
/// let config: PrefactorConfig = serde_json::from_str(r#"{"sorting": "--id"}"#).unwrap();
/// assert_eq!(config.check()[0].key, "sorting");
/// ```
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
#[non_exhaustive]
pub struct PrefactorConfig {
    /// The account whose invites to list (default: the token's own); also the default
    /// label.
    pub account_id: Option<String>,
    /// `field` or `-field` (default [`crate::DEFAULT_SORTING`], creation order).
    pub sorting: Option<String>,
    /// Rows per page, `1..=`[`MAX_PAGE_SIZE`] (default [`crate::DEFAULT_PAGE_SIZE`]).
    pub page_size: Option<i64>,
    /// The variable holding the API token (default [`TOKEN_ENV`]).
    pub token_env: Option<String>,
}

impl SourceConfig for PrefactorConfig {
    fn default_label(&self) -> Option<String> {
        self.account_id.clone()
    }

    fn check(&self) -> Vec<ConfigIssue> {
        let mut issues = Issues::new();
        if let Some(account) = &self.account_id {
            if account.is_empty() || !account.chars().all(|c| c.is_ascii_alphanumeric()) {
                issues.push(ConfigIssue::new(
                    "account_id",
                    format!("{account:?} is not a Prefactor account id (letters and digits)"),
                    "copy the account id from Prefactor, or remove it to use the token's own account",
                ));
            }
        }
        if let Some(sorting) = self
            .sorting
            .as_deref()
            .filter(|s| Sorting::parse(s).is_none())
        {
            issues.push(ConfigIssue::new(
                "sorting",
                format!("{sorting:?} is not a field name (optionally prefixed with '-')"),
                "e.g. sorting = \"id\" (the default, creation order) or \"-id\"",
            ));
        }
        issues.page_size("page_size", self.page_size, MAX_PAGE_SIZE);
        issues.secret_var(TOKEN, self.token_env.as_deref());
        issues.into_vec()
    }

    fn build(
        &self,
        settings: &SourceSettings,
        env: &dyn Env,
    ) -> Result<Box<dyn InviteeSource>, Vec<ConfigIssue>> {
        let mut issues = Issues::new();
        let token = issues.secret(env, TOKEN, self.token_env.as_deref());
        let mut builder = settings.apply(PrefactorBuilder::new(), BASE_URL_ENV, env);
        if let Some(token) = issues.finish(token)? {
            builder = builder.with_token(token);
        }
        if let Some(account) = &self.account_id {
            builder = builder.with_account_id(account);
        }
        if let Some(sorting) = &self.sorting {
            builder = builder.with_sorting(sorting);
        }
        if let Some(size) = self.page_size.and_then(|s| u32::try_from(s).ok()) {
            builder = builder.with_page_size(size);
        }
        Ok(Box::new(built(builder.build())?))
    }
}

impl ProviderConfig for PrefactorConfig {
    const NAME: &'static str = "prefactor";
    const SECRETS: &'static [SecretKey] = &[TOKEN];
}
