//! A credential that never shows itself.

use std::fmt;

use secrecy::{ExposeSecret, SecretString};

/// A session cookie, token or API secret. `Debug` and `Display` print `******`; the value
/// is only reachable through [`Secret::expose`], which adapters call when they build a
/// header (marked sensitive). The value lives in a [`secrecy::SecretString`], so its
/// memory is zeroed when the last copy is dropped.
///
/// ```
/// use affiliate_http::Secret;
/// let s = Secret::new("nl_session=abc");
/// assert_eq!(format!("{s:?} {s}"), "Secret(******) ******");
/// assert_eq!(s.expose(), "nl_session=abc");
/// ```
#[derive(Clone)]
pub struct Secret(SecretString);

impl Secret {
    /// Wraps a value.
    pub fn new(value: impl Into<String>) -> Self {
        Self(SecretString::from(value.into()))
    }

    /// The value itself. Never log what this returns.
    pub fn expose(&self) -> &str {
        self.0.expose_secret()
    }
}

impl PartialEq for Secret {
    fn eq(&self, other: &Self) -> bool {
        self.expose() == other.expose()
    }
}

impl Eq for Secret {}

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
}
