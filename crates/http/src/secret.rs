//! A credential that never shows itself.

use std::fmt;

/// A session cookie, token or API secret. `Debug` and `Display` print `******`; the value
/// is only reachable through [`Secret::expose`], which adapters call when they build a
/// header (marked sensitive).
///
/// ```
/// use affiliate_http::Secret;
/// let s = Secret::new("nl_session=abc");
/// assert_eq!(format!("{s:?} {s}"), "Secret(******) ******");
/// assert_eq!(s.expose(), "nl_session=abc");
/// ```
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(Box<str>);

/// An environment variable that should hold a secret is unset, empty or not UTF-8.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("environment variable {0} is not set (or empty)")]
pub struct MissingEnvVar(pub String);

impl Secret {
    /// Wraps a value.
    pub fn new(value: impl Into<String>) -> Self {
        Self(value.into().into_boxed_str())
    }

    /// Reads a secret from an environment variable; empty counts as unset.
    pub fn from_env(name: &str) -> Result<Self, MissingEnvVar> {
        match std::env::var(name) {
            Ok(value) if !value.is_empty() => Ok(Self::new(value)),
            _ => Err(MissingEnvVar(name.to_owned())),
        }
    }

    /// The value itself. Never log what this returns.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Secret(******)")
    }
}

impl fmt::Display for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("******")
    }
}

impl From<String> for Secret {
    fn from(value: String) -> Self {
        Self::new(value)
    }
}

impl From<&str> for Secret {
    fn from(value: &str) -> Self {
        Self::new(value)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn never_prints_the_value() {
        let s = Secret::new("hunter2");
        let shown = format!("{s:?} {s} {:?}", Some(&s));
        assert!(!shown.contains("hunter2"), "{shown}");
    }

    #[test]
    fn empty_env_var_is_missing() {
        std::env::set_var("AFFILIATE_HTTP_TEST_EMPTY", "");
        assert_eq!(
            Secret::from_env("AFFILIATE_HTTP_TEST_EMPTY"),
            Err(MissingEnvVar("AFFILIATE_HTTP_TEST_EMPTY".into()))
        );
    }
}
