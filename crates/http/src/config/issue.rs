//! Problems found in a source's configuration, each naming its key and the fix.

use std::fmt;

use crate::config::{Env, SecretKey};
use crate::Secret;

/// One problem in a source's configuration.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct ConfigIssue {
    /// The key, relative to the source's table (`utc_offset`); empty for the whole source.
    pub key: String,
    /// What is wrong.
    pub message: String,
    /// How to fix it.
    pub fix: String,
}

impl ConfigIssue {
    /// A problem with `key`, and how to fix it.
    pub fn new(key: impl Into<String>, message: impl Into<String>, fix: impl Into<String>) -> Self {
        Self {
            key: key.into(),
            message: message.into(),
            fix: fix.into(),
        }
    }

    /// An unset secret variable: `key` names it, and it should hold `what`.
    pub fn missing_var(key: &str, var: &str, what: &str) -> Self {
        let setting = key.rsplit('.').next().unwrap_or(key);
        Self::new(
            key,
            format!("environment variable {var} is not set (or empty); it should hold {what}"),
            format!(
                "export {var}=… before running, or set {setting} to the variable that holds it"
            ),
        )
    }
}

impl fmt::Display for ConfigIssue {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if !self.key.is_empty() {
            write!(f, "{}: ", self.key)?;
        }
        write!(f, "{}", self.message)?;
        if !self.fix.is_empty() {
            write!(f, " (fix: {})", self.fix)?;
        }
        Ok(())
    }
}

/// Collects every problem of one source, so all are reported at once.
///
/// ```
/// use affiliate_http::config::Issues;
/// let mut issues = Issues::new();
/// assert_eq!(issues.page_size("limit", Some(500), 200), None);
/// issues.env_name("session_env", "not a name!");
/// let all = issues.finish(()).unwrap_err();
/// assert_eq!(all[0].key, "limit");
/// assert_eq!(all[1].key, "session_env");
/// ```
#[derive(Debug, Default)]
pub struct Issues(Vec<ConfigIssue>);

impl Issues {
    /// No problems yet.
    pub fn new() -> Self {
        Self::default()
    }

    /// Records a problem.
    pub fn push(&mut self, issue: ConfigIssue) {
        self.0.push(issue);
    }

    /// A page size within `1..=max`; `None` (and a problem) otherwise.
    pub fn page_size(&mut self, key: &str, value: Option<i64>, max: u32) -> Option<u32> {
        let value = value?;
        match u32::try_from(value) {
            Ok(n) if (1..=max).contains(&n) => Some(n),
            _ => {
                self.push(ConfigIssue::new(
                    key,
                    format!("must be within 1..={max} (got {value})"),
                    format!("set {key} = {max} (the maximum the provider documents) or less"),
                ));
                None
            }
        }
    }

    /// Checks that `var` can name an environment variable (letters, digits, `_`, not
    /// starting with a digit). The value is never echoed: a secret pasted here by mistake
    /// must not end up in a terminal or a log.
    pub fn env_name(&mut self, key: &str, var: &str) {
        let mut chars = var.chars();
        let ok = chars
            .next()
            .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
            && chars.all(|c| c.is_ascii_alphanumeric() || c == '_');
        if !ok {
            self.push(ConfigIssue::new(
                key,
                "is not an environment variable name (letters, digits and '_'); the value is \
                 not shown in case it is a secret",
                format!("put the secret in an environment variable and name it here, e.g. {key} = \"MY_VARIABLE\""),
            ));
        }
    }

    /// Checks the variable name `configured` for the secret key `key`, when one is given.
    pub fn secret_var(&mut self, key: SecretKey, configured: Option<&str>) {
        if let Some(var) = configured {
            self.env_name(key.key, var);
        }
    }

    /// Reads the secret of `key` from its variable: `configured`, else the key's default.
    pub fn secret(
        &mut self,
        env: &dyn Env,
        key: SecretKey,
        configured: Option<&str>,
    ) -> Option<Secret> {
        let var = configured.unwrap_or(key.default_var);
        match env.var(var) {
            Some(value) => Some(Secret::new(value)),
            None => {
                self.push(ConfigIssue::missing_var(key.key, var, key.what));
                None
            }
        }
    }

    /// Records `result`'s error, if any, under `key` with `fix`.
    pub fn check<T, E: fmt::Display>(
        &mut self,
        key: &str,
        result: Result<T, E>,
        fix: &str,
    ) -> Option<T> {
        result
            .map_err(|e| self.push(ConfigIssue::new(key, e.to_string(), fix)))
            .ok()
    }

    /// [`Issues::check`] for a value that may be absent (an optional key): `None` passes.
    pub fn check_some<T, E: fmt::Display>(
        &mut self,
        key: &str,
        result: Option<Result<T, E>>,
        fix: &str,
    ) -> Option<T> {
        result.and_then(|r| self.check(key, r, fix))
    }

    /// True when no problem was recorded.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// `value` when no problem was recorded, else every problem.
    pub fn finish<T>(self, value: T) -> Result<T, Vec<ConfigIssue>> {
        if self.0.is_empty() {
            Ok(value)
        } else {
            Err(self.0)
        }
    }

    /// The problems recorded.
    pub fn into_vec(self) -> Vec<ConfigIssue> {
        self.0
    }
}
