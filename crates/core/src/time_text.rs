//! Reading provider timestamps without chrono's general parser on the common path.
//!
//! chrono parses RFC 3339 through its relaxed item-by-item parser, and a `strftime`-style
//! format through a format iterator it rebuilds per call: together 6.8 % of all
//! instructions of a sync into NDJSON (callgrind, 2026-12-06), for text that is nearly
//! always `2024-05-01T12:00:00Z` or `2024-05-01 12:00:00`. The fixed-width forms are read
//! here digit by digit; anything else (other separators, a leap second, more than nine
//! fraction digits, an unusual offset) is handed to chrono, so what is accepted and how it
//! reads is chrono's (property-tested against it below).
//!
//! ```
//! use affiliate_core::time_text;
//! let at = time_text::rfc3339("2024-05-01T14:00:00.5+02:00").unwrap();
//! assert_eq!(at.to_rfc3339(), "2024-05-01T12:00:00.500+00:00");
//! ```

use std::fmt;

use chrono::{DateTime, Duration, FixedOffset, NaiveDate, NaiveDateTime, Timelike, Utc};
use serde::de::{self, Deserializer, Visitor};

/// An RFC 3339 instant as UTC, read as chrono's `DateTime<FixedOffset>` parser reads it
/// (`None` where chrono refuses it).
pub fn rfc3339(text: &str) -> Option<DateTime<Utc>> {
    fast_rfc3339(text.as_bytes()).or_else(|| {
        text.parse::<DateTime<FixedOffset>>()
            .ok()
            .map(|at| at.with_timezone(&Utc))
    })
}

/// `YYYY-MM-DD?HH:MM:SS` at the start of `text`, with any one byte `separator` between date
/// and time; `None` unless it is exactly that, with a valid date and a second below 60.
pub fn date_time_prefix(text: &[u8], separator: u8) -> Option<NaiveDateTime> {
    let head = text.get(..19)?;
    let punctuation = [
        (4, b'-'),
        (7, b'-'),
        (10, separator),
        (13, b':'),
        (16, b':'),
    ];
    if punctuation.iter().any(|&(at, byte)| head[at] != byte) {
        return None;
    }
    let number = |from: usize, to: usize| digits(&head[from..to]);
    let date = NaiveDate::from_ymd_opt(number(0, 4)? as i32, number(5, 7)?, number(8, 10)?)?;
    date.and_hms_opt(number(11, 13)?, number(14, 16)?, number(17, 19)?)
}

/// `T`, then up to nine fraction digits, then `Z` or `±HH:MM`; `None` for anything else.
fn fast_rfc3339(text: &[u8]) -> Option<DateTime<Utc>> {
    let local = date_time_prefix(text, b'T')?;
    let mut rest = &text[19..];
    let mut nanos = 0;
    if let Some((b'.', fraction)) = rest.split_first() {
        let width = fraction.iter().take_while(|b| b.is_ascii_digit()).count();
        if !(1..=9).contains(&width) {
            return None;
        }
        nanos = digits(&fraction[..width])? * 10u32.pow(9 - width as u32);
        rest = &fraction[width..];
    }
    let offset = match rest {
        b"Z" => 0,
        [sign @ (b'+' | b'-'), h1, h2, b':', m1, m2] => {
            let (hours, minutes) = (digits(&[*h1, *h2])?, digits(&[*m1, *m2])?);
            if hours > 23 || minutes > 59 {
                return None;
            }
            let seconds = i64::from(hours * 3600 + minutes * 60);
            if *sign == b'-' {
                -seconds
            } else {
                seconds
            }
        }
        _ => return None,
    };
    // At most nine digits: below one second, never a leap second.
    local
        .with_nanosecond(nanos)?
        .checked_sub_signed(Duration::seconds(offset))
        .map(|utc| utc.and_utc())
}

/// The number the ASCII digits spell; `None` if any byte is not a digit.
fn digits(bytes: &[u8]) -> Option<u32> {
    bytes.iter().try_fold(0u32, |n, &b| {
        b.is_ascii_digit().then(|| n * 10 + u32::from(b - b'0'))
    })
}

/// Deserialises an RFC 3339 string as `DateTime<Utc>` (for `#[serde(deserialize_with)]`):
/// what chrono's own `Deserialize` accepts, read faster.
pub fn deserialize<'de, D: Deserializer<'de>>(deserializer: D) -> Result<DateTime<Utc>, D::Error> {
    deserializer.deserialize_str(InstantVisitor)
}

/// [`deserialize`] for an optional field (`null` or absent is `None`; with
/// `#[serde(default)]` when the field may be missing).
pub fn deserialize_option<'de, D: Deserializer<'de>>(
    deserializer: D,
) -> Result<Option<DateTime<Utc>>, D::Error> {
    deserializer.deserialize_option(OptionVisitor)
}

struct InstantVisitor;

impl Visitor<'_> for InstantVisitor {
    type Value = DateTime<Utc>;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // chrono's wording, so errors read as they did.
        f.write_str("an RFC 3339 formatted date and time string")
    }

    fn visit_str<E: de::Error>(self, text: &str) -> Result<Self::Value, E> {
        if let Some(at) = fast_rfc3339(text.as_bytes()) {
            return Ok(at);
        }
        text.parse::<DateTime<FixedOffset>>()
            .map(|at| at.with_timezone(&Utc))
            .map_err(E::custom)
    }
}

struct OptionVisitor;

impl<'de> Visitor<'de> for OptionVisitor {
    type Value = Option<DateTime<Utc>>;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("null or an RFC 3339 formatted date and time string")
    }

    fn visit_none<E: de::Error>(self) -> Result<Self::Value, E> {
        Ok(None)
    }

    fn visit_unit<E: de::Error>(self) -> Result<Self::Value, E> {
        Ok(None)
    }

    fn visit_some<D: Deserializer<'de>>(self, deserializer: D) -> Result<Self::Value, D::Error> {
        deserialize(deserializer).map(Some)
    }
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    fn chrono(text: &str) -> Option<DateTime<Utc>> {
        text.parse::<DateTime<FixedOffset>>()
            .ok()
            .map(|at| at.with_timezone(&Utc))
    }

    #[derive(Debug, serde::Deserialize, PartialEq)]
    struct Row {
        #[serde(deserialize_with = "deserialize")]
        at: DateTime<Utc>,
        #[serde(default, deserialize_with = "deserialize_option")]
        maybe: Option<DateTime<Utc>>,
    }

    #[derive(Debug, serde::Deserialize, PartialEq)]
    struct ChronoRow {
        at: DateTime<Utc>,
        #[serde(default)]
        maybe: Option<DateTime<Utc>>,
    }

    #[test]
    fn fields_read_as_chronos_deserialize_reads_them() {
        for body in [
            r#"{"at":"2024-02-29T23:59:59.123456789-05:30","maybe":null}"#,
            r#"{"at":"2024-02-29 23:59:59Z"}"#,
            r#"{"at":"2016-12-31T23:59:60Z","maybe":"2024-01-01T00:00:00+00:00"}"#,
            r#"{"at":"2023-02-29T00:00:00Z"}"#,
            r#"{"at":12}"#,
        ] {
            let ours = serde_json::from_str::<Row>(body).map_err(|e| e.to_string());
            let theirs = serde_json::from_str::<ChronoRow>(body).map_err(|e| e.to_string());
            match (ours, theirs) {
                (Ok(a), Ok(b)) => assert_eq!((a.at, a.maybe), (b.at, b.maybe), "{body}"),
                (Err(a), Err(b)) => assert!(!a.is_empty() && !b.is_empty(), "{body}"),
                (a, b) => panic!("{body}: ours {a:?}, chrono's {b:?}"),
            }
        }
    }

    #[test]
    fn the_fixed_prefix_reads_coinw_times() {
        let at = date_time_prefix(b"2024-03-01 08:00:05", b' ').unwrap();
        assert_eq!(at.to_string(), "2024-03-01 08:00:05");
        assert!(date_time_prefix(b"2024-13-01 08:00:05", b' ').is_none());
        assert!(date_time_prefix(b"2024-03-01T08:00:05", b' ').is_none());
        assert!(date_time_prefix(b"2024-03-01 08:00", b' ').is_none());
        assert!(date_time_prefix(b"2024-03-01 08:00:60", b' ').is_none());
    }

    proptest! {
        #[test]
        fn well_formed_text_reads_as_chrono_reads_it(
            secs in -62_000_000_000i64..250_000_000_000,
            nanos in 0u32..1_000_000_000,
            width in 0usize..=10,
            offset in -86_399i32..86_400,
            zulu in any::<bool>(),
        ) {
            let at = DateTime::from_timestamp(secs, nanos).unwrap();
            let zone = FixedOffset::east_opt(offset / 60 * 60).unwrap();
            let local = at.with_timezone(&zone);
            let mut text = local.format("%Y-%m-%dT%H:%M:%S").to_string();
            if width > 0 {
                text.push('.');
                text.push_str(&format!("{:09}0", local.timestamp_subsec_nanos())[..width]);
            }
            if zulu && offset / 60 == 0 { text.push('Z') } else { text.push_str(&local.format("%:z").to_string()) }
            prop_assert_eq!(rfc3339(&text), chrono(&text), "{}", text);
        }

        #[test]
        fn any_text_reads_as_chrono_reads_it(text in "[0-9T:+.Z -]{0,40}|[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}[.0-9]{0,11}(Z|[+-][0-9]{2}:[0-9]{2})?") {
            prop_assert_eq!(rfc3339(&text), chrono(&text), "{}", text);
        }
    }
}
