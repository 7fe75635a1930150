//! `provider = "triport"` in a configuration file.

use affiliate_core::InviteeSource;
use affiliate_http::config::{
    built, ConfigIssue, Env, Issues, ProviderConfig, SecretKey, SourceConfig, SourceSettings,
};
use serde::Deserialize;

use crate::{TriportBuilder, TriportClient, MAX_LIMIT};

/// The variable the console session cookie is read from by default.
pub const SESSION_ENV: &str = "TRIPORT_SESSION";
/// The variable the operator token is read from by default.
pub const ADMIN_TOKEN_ENV: &str = "TRIPORT_ADMIN_TOKEN";
/// The variable a base-URL override is read from when the file gives none.
pub const BASE_URL_ENV: &str = "TRIPORT_BASE_URL";

const SESSION: SecretKey = SecretKey {
    key: "session_env",
    default_var: SESSION_ENV,
    what: "the Triport console session cookie (nl_session)",
};
const ADMIN_TOKEN: SecretKey = SecretKey {
    key: "admin_token_env",
    default_var: ADMIN_TOKEN_ENV,
    what: "the Triport operator token (X-Admin-Token)",
};

/// Triport's own keys of a `[[source]]` (the shared ones are [`SourceSettings`]).
///
/// ```
/// use affiliate_http::config::{SourceConfig, SourceSettings};
/// use affiliate_triport::TriportConfig;
/// use std::collections::HashMap;
///
/// let config: TriportConfig = serde_json::from_str(r#"{"limit": 100}"#).unwrap();
/// assert!(config.check().is_empty());
/// let env = HashMap::from([("TRIPORT_SESSION".to_owned(), "cookie".to_owned())]);
/// let source = config.build(&SourceSettings::default(), &env).unwrap();
/// assert_eq!(source.id().to_string(), "triport:default");
/// ```
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
#[non_exhaustive]
pub struct TriportConfig {
    /// Rows per page, `1..=`[`MAX_LIMIT`] (default [`crate::DEFAULT_LIMIT`]).
    pub limit: Option<i64>,
    /// The variable holding the `nl_session` cookie (default [`SESSION_ENV`]).
    pub session_env: Option<String>,
    /// The variable holding the operator token (default [`ADMIN_TOKEN_ENV`]); only
    /// `affiliate triport user` reads it.
    pub admin_token_env: Option<String>,
}

impl TriportConfig {
    fn builder(&self, settings: &SourceSettings, env: &dyn Env) -> TriportBuilder {
        let mut builder = settings.apply(TriportBuilder::new(), BASE_URL_ENV, env);
        if let Some(limit) = self.limit.and_then(|l| u32::try_from(l).ok()) {
            builder = builder.with_limit(limit);
        }
        builder
    }

    /// A client for the operator view only: the admin token from its variable, no session.
    pub fn admin_client(
        &self,
        settings: &SourceSettings,
        env: &dyn Env,
    ) -> Result<TriportClient, Vec<ConfigIssue>> {
        let mut issues = Issues::new();
        let token = issues.secret(env, ADMIN_TOKEN, self.admin_token_env.as_deref());
        let mut builder = issues.finish(self.builder(settings, env))?;
        if let Some(token) = token {
            builder = builder.with_admin_token(token);
        }
        built(builder.build())
    }
}

impl SourceConfig for TriportConfig {
    fn check(&self) -> Vec<ConfigIssue> {
        let mut issues = Issues::new();
        issues.page_size("limit", self.limit, MAX_LIMIT);
        for (value, key) in [
            (&self.session_env, SESSION),
            (&self.admin_token_env, ADMIN_TOKEN),
        ] {
            if let Some(var) = value {
                issues.env_name(key.key, var);
            }
        }
        issues.into_vec()
    }

    fn build(
        &self,
        settings: &SourceSettings,
        env: &dyn Env,
    ) -> Result<Box<dyn InviteeSource>, Vec<ConfigIssue>> {
        let mut issues = Issues::new();
        let session = issues.secret(env, SESSION, self.session_env.as_deref());
        let builder = issues.finish(self.builder(settings, env))?;
        let builder = match session {
            Some(session) => builder.with_session(session),
            None => builder,
        };
        Ok(Box::new(built(builder.build())?))
    }
}

impl ProviderConfig for TriportConfig {
    const NAME: &'static str = "triport";
    const SECRETS: &'static [SecretKey] = &[SESSION, ADMIN_TOKEN];
}
