//! Parsers for the config file's own value syntaxes: durations and environment variable
//! names (provider values are their adapters' to parse). Each returns a message saying
//! what is expected.

use affiliate::http::config::Issues;
use chrono::TimeDelta;

/// A duration such as `"90s"`, `"30m"`, `"1h"`, `"2d"` or `"1h 30m"` (humantime's syntax),
/// or whole seconds as an integer.
pub(crate) fn duration(value: &toml::Value) -> Result<TimeDelta, String> {
    const EXPECTED: &str = "a duration such as \"30m\", \"1h\" or \"2d\" (or whole seconds)";
    let std = match value {
        toml::Value::Integer(secs) => u64::try_from(*secs)
            .map(std::time::Duration::from_secs)
            .map_err(|_| format!("{secs} is negative; expected {EXPECTED}"))?,
        toml::Value::String(text) => humantime::parse_duration(text.trim())
            .map_err(|e| format!("{text:?} is not {EXPECTED} ({e})"))?,
        other => return Err(format!("got a {}; expected {EXPECTED}", other.type_str())),
    };
    TimeDelta::from_std(std).map_err(|_| format!("{value:?} is too long"))
}

/// Checks that `name` can be an environment variable name; the name is never echoed.
pub(crate) fn env_name(name: &str) -> Result<(), String> {
    let mut issues = Issues::new();
    issues.env_name("", name);
    match issues.into_vec().pop() {
        Some(issue) => Err(issue.message),
        None => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations() {
        let s = |t: &str| duration(&toml::Value::String(t.into()));
        assert_eq!(s("30m"), Ok(TimeDelta::minutes(30)));
        assert_eq!(s("1h"), Ok(TimeDelta::hours(1)));
        assert_eq!(s("2days"), Ok(TimeDelta::days(2)));
        assert_eq!(s("1h 30m"), Ok(TimeDelta::minutes(90)));
        assert_eq!(
            duration(&toml::Value::Integer(90)),
            Ok(TimeDelta::seconds(90))
        );
        assert!(s("h").is_err());
        assert!(s("soon").is_err());
        assert!(duration(&toml::Value::Integer(-1)).is_err());
    }

    #[test]
    fn env_names_are_checked_without_echoing() {
        assert!(env_name("TRIPORT_SESSION").is_ok());
        assert!(env_name("_X1").is_ok());
        let err = env_name("s3cr3t-value!").unwrap_err();
        assert!(!err.contains("s3cr3t"));
        assert!(env_name("").is_err());
        assert!(env_name("1ABC").is_err());
    }
}
