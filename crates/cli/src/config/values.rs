//! Parsers for the config file's value syntaxes: durations, window lengths, dates,
//! environment variable names. Each returns a message saying what is expected.

use affiliate::coinw::WindowLength;
use chrono::{DateTime, NaiveDate, TimeDelta, Utc};

/// A duration such as `"90s"`, `"30m"`, `"1h"`, `"2d"`, or whole seconds as an integer.
pub(crate) fn duration(value: &toml::Value) -> Result<TimeDelta, String> {
    const EXPECTED: &str = "a duration such as \"30m\", \"1h\" or \"2d\" (or whole seconds)";
    match value {
        toml::Value::Integer(secs) if *secs >= 0 => Ok(TimeDelta::seconds(*secs)),
        toml::Value::Integer(secs) => Err(format!("{secs} is negative; expected {EXPECTED}")),
        toml::Value::String(text) => {
            let (n, unit) =
                number_and_unit(text).ok_or_else(|| format!("{text:?} is not {EXPECTED}"))?;
            let n = i64::try_from(n).map_err(|_| format!("{text:?} is too long"))?;
            let delta = match unit {
                "s" | "sec" | "secs" | "second" | "seconds" => TimeDelta::try_seconds(n),
                "m" | "min" | "mins" | "minute" | "minutes" => TimeDelta::try_minutes(n),
                "h" | "hour" | "hours" => TimeDelta::try_hours(n),
                "d" | "day" | "days" => TimeDelta::try_days(n),
                _ => return Err(format!("{text:?} has an unknown unit; expected {EXPECTED}")),
            };
            delta.ok_or_else(|| format!("{text:?} is too long"))
        }
        other => Err(format!("got a {}; expected {EXPECTED}", other.type_str())),
    }
}

/// A CoinW window length: `"1 month"`, `"3 months"`, `"7 days"`, `"2 weeks"` (or `"1mo"`,
/// `"7d"`, `"2w"`).
pub(crate) fn window(text: &str) -> Result<WindowLength, String> {
    const EXPECTED: &str = "a length such as \"1 month\", \"3 months\", \"7 days\" or \"2 weeks\"";
    let (n, unit) = number_and_unit(text).ok_or_else(|| format!("{text:?} is not {EXPECTED}"))?;
    let n = u32::try_from(n).map_err(|_| format!("{text:?} is too long"))?;
    if n == 0 {
        return Err(format!("{text:?} is empty; expected {EXPECTED}"));
    }
    match unit {
        "mo" | "month" | "months" => Ok(WindowLength::Months(n)),
        "d" | "day" | "days" => Ok(WindowLength::Days(n)),
        "w" | "week" | "weeks" => n
            .checked_mul(7)
            .map(WindowLength::Days)
            .ok_or_else(|| format!("{text:?} is too long")),
        _ => Err(format!("{text:?} has an unknown unit; expected {EXPECTED}")),
    }
}

/// Splits `"30 m"` / `"30m"` into (30, "m").
fn number_and_unit(text: &str) -> Option<(u64, &str)> {
    let text = text.trim();
    let digits = text
        .find(|c: char| !c.is_ascii_digit())
        .unwrap_or(text.len());
    if digits == 0 {
        return None;
    }
    let n = text[..digits].parse().ok()?;
    Some((n, text[digits..].trim()))
}

/// Where a CoinW listing starts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Since {
    /// 00:00:00 of this day in the provider's offset.
    Date(NaiveDate),
    /// This instant.
    Instant(DateTime<Utc>),
}

/// A TOML date (`2024-01-01`), an offset date-time (`2024-01-01T00:00:00Z`), or either as
/// a string.
pub(crate) fn since(value: &toml::Value) -> Result<Since, String> {
    const EXPECTED: &str =
        "a date such as 2024-01-01 (midnight in utc_offset) or an instant such as 2024-01-01T00:00:00Z";
    let text = match value {
        toml::Value::String(s) => s.trim().to_owned(),
        toml::Value::Datetime(d) => d.to_string(),
        other => return Err(format!("got a {}; expected {EXPECTED}", other.type_str())),
    };
    if let Ok(date) = NaiveDate::parse_from_str(&text, "%Y-%m-%d") {
        return Ok(Since::Date(date));
    }
    DateTime::parse_from_rfc3339(&text)
        .map(|t| Since::Instant(t.with_timezone(&Utc)))
        .map_err(|_| format!("{text:?} is not {EXPECTED}"))
}

/// Checks that `name` can be an environment variable name (letters, digits, `_`, not
/// starting with a digit). The name is never echoed: a secret pasted here by mistake must
/// not end up in a terminal or a log.
pub(crate) fn env_name(name: &str) -> Result<(), String> {
    let mut chars = name.chars();
    let ok = chars
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_');
    if ok {
        Ok(())
    } else {
        Err(
            "is not an environment variable name (letters, digits and '_'); the value is \
             not shown in case it is a secret"
                .to_owned(),
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations() {
        let s = |t: &str| duration(&toml::Value::String(t.into()));
        assert_eq!(s("30m"), Ok(TimeDelta::minutes(30)));
        assert_eq!(s("1 h"), Ok(TimeDelta::hours(1)));
        assert_eq!(s("2days"), Ok(TimeDelta::days(2)));
        assert_eq!(
            duration(&toml::Value::Integer(90)),
            Ok(TimeDelta::seconds(90))
        );
        assert!(s("1y").is_err());
        assert!(s("h").is_err());
        assert!(duration(&toml::Value::Integer(-1)).is_err());
    }

    #[test]
    fn windows() {
        assert_eq!(window("1 month"), Ok(WindowLength::Months(1)));
        assert_eq!(window("3mo"), Ok(WindowLength::Months(3)));
        assert_eq!(window("7 days"), Ok(WindowLength::Days(7)));
        assert_eq!(window("2w"), Ok(WindowLength::Days(14)));
        assert!(window("0 days").is_err());
        assert!(window("monthly").is_err());
    }

    #[test]
    fn since_values() {
        let date: toml::Value = toml::from_str::<toml::Table>("d = 2024-02-03")
            .map(|t| t["d"].clone())
            .unwrap_or(toml::Value::Boolean(false));
        assert_eq!(
            since(&date),
            Ok(Since::Date(NaiveDate::from_ymd_opt(2024, 2, 3).unwrap()))
        );
        let instant = since(&toml::Value::String("2024-02-03T04:00:00+02:00".into()));
        assert_eq!(
            instant,
            Ok(Since::Instant(
                DateTime::parse_from_rfc3339("2024-02-03T02:00:00Z")
                    .unwrap()
                    .with_timezone(&Utc)
            ))
        );
        assert!(since(&toml::Value::String("yesterday".into())).is_err());
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
