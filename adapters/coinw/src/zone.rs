//! CoinW's zone-less times (`yyyy-MM-dd HH:mm:ss`) and the configured UTC offset they are
//! read in.
//!
//! CoinW documents no time zone for `registerTime`, `startTime` and `endTime`, so the offset
//! is a required setting of the source (`PROVIDERS.md`, Decisions). Conversions both ways:
//!
//! ```
//! use affiliate_coinw::zone::{from_provider_text, parse_utc_offset, to_provider_text};
//! use chrono::{TimeZone, Utc};
//!
//! let offset = parse_utc_offset("+08:00")?;
//! let t = from_provider_text("2021-09-09 14:43:18", offset)?;
//! assert_eq!(t, Utc.with_ymd_and_hms(2021, 9, 9, 6, 43, 18).unwrap());
//! assert_eq!(to_provider_text(t, offset), "2021-09-09 14:43:18");
//! # Ok::<(), affiliate_coinw::CoinwError>(())
//! ```

use chrono::{DateTime, FixedOffset, NaiveDateTime, TimeZone, Utc};

use crate::CoinwError;

/// CoinW's time format.
pub const TIME_FORMAT: &str = "%Y-%m-%d %H:%M:%S";

/// Parses a UTC offset: `+08:00`, `-05:30`, `+0800`, `+08`, `Z`, `UTC` or `UTC+8`
/// (hours up to 23, minutes below 60).
pub fn parse_utc_offset(text: &str) -> Result<FixedOffset, CoinwError> {
    let invalid = || {
        CoinwError::Config(format!(
            "UTC offset {text:?} is not of the form +HH:MM (e.g. +08:00, -05:30, Z)"
        ))
    };
    let t = text.trim();
    if t.eq_ignore_ascii_case("z") || t.eq_ignore_ascii_case("utc") || t.eq_ignore_ascii_case("gmt")
    {
        return FixedOffset::east_opt(0).ok_or_else(invalid);
    }
    let t = t
        .strip_prefix("UTC")
        .or_else(|| t.strip_prefix("utc"))
        .or_else(|| t.strip_prefix("GMT"))
        .unwrap_or(t);
    let (sign, rest) = match t.as_bytes().first() {
        Some(b'+') => (1, &t[1..]),
        Some(b'-') => (-1, &t[1..]),
        _ => return Err(invalid()),
    };
    let digits = |s: &str| !s.is_empty() && s.len() <= 2 && s.bytes().all(|b| b.is_ascii_digit());
    let (hours, minutes) = match rest.split_once(':') {
        Some((h, m)) if digits(h) && m.len() == 2 && digits(m) => (h, m),
        None if rest.len() == 4 && rest.bytes().all(|b| b.is_ascii_digit()) => rest.split_at(2),
        None if digits(rest) => (rest, "0"),
        _ => return Err(invalid()),
    };
    let hours: i32 = hours.parse().map_err(|_| invalid())?;
    let minutes: i32 = minutes.parse().map_err(|_| invalid())?;
    if hours > 23 || minutes > 59 {
        return Err(invalid());
    }
    FixedOffset::east_opt(sign * (hours * 3600 + minutes * 60)).ok_or_else(invalid)
}

/// An instant as CoinW writes it in `offset` (sub-seconds dropped).
pub fn to_provider_text(instant: DateTime<Utc>, offset: FixedOffset) -> String {
    instant
        .with_timezone(&offset)
        .format(TIME_FORMAT)
        .to_string()
}

/// A CoinW time read in `offset`, as UTC.
pub fn from_provider_text(text: &str, offset: FixedOffset) -> Result<DateTime<Utc>, CoinwError> {
    let trimmed = text.trim();
    // The fixed-width form read digit by digit; chrono's format parser for anything else.
    let fast = (trimmed.len() == 19)
        .then(|| affiliate_core::time_text::date_time_prefix(trimmed.as_bytes(), b' '))
        .flatten();
    let naive = match fast {
        Some(naive) => naive,
        None => NaiveDateTime::parse_from_str(trimmed, TIME_FORMAT).map_err(|e| {
            CoinwError::BadRecord(format!("time {text:?} is not yyyy-MM-dd HH:mm:ss: {e}"))
        })?,
    };
    local_to_utc(naive, offset)
        .ok_or_else(|| CoinwError::BadRecord(format!("time {text:?} is out of range")))
}

/// A wall-clock time in `offset` as UTC (`None` only out of chrono's range).
pub(crate) fn local_to_utc(naive: NaiveDateTime, offset: FixedOffset) -> Option<DateTime<Utc>> {
    offset
        .from_local_datetime(&naive)
        .single()
        .map(|t| t.with_timezone(&Utc))
}

/// Drops sub-seconds: CoinW's times have second resolution.
pub(crate) fn floor_second(t: DateTime<Utc>) -> DateTime<Utc> {
    DateTime::from_timestamp(t.timestamp(), 0).unwrap_or(t)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn offsets() {
        let secs = |s: &str| parse_utc_offset(s).map(|o| o.local_minus_utc());
        assert_eq!(secs("+08:00").unwrap(), 8 * 3600);
        assert_eq!(secs("-05:30").unwrap(), -(5 * 3600 + 30 * 60));
        assert_eq!(secs("+0800").unwrap(), 8 * 3600);
        assert_eq!(secs("+8").unwrap(), 8 * 3600);
        assert_eq!(secs("UTC+8").unwrap(), 8 * 3600);
        assert_eq!(secs("Z").unwrap(), 0);
        assert_eq!(secs(" utc ").unwrap(), 0);
        for bad in [
            "",
            "8",
            "+24:00",
            "+08:60",
            "+8:0",
            "Asia/Shanghai",
            "+08:00:00",
            "++8",
        ] {
            assert!(secs(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn both_ways_east_and_west() {
        let east = parse_utc_offset("+08:00").unwrap();
        let west = parse_utc_offset("-05:30").unwrap();
        let t = Utc.with_ymd_and_hms(2024, 2, 29, 20, 15, 9).unwrap();
        assert_eq!(to_provider_text(t, east), "2024-03-01 04:15:09");
        assert_eq!(to_provider_text(t, west), "2024-02-29 14:45:09");
        assert_eq!(from_provider_text("2024-03-01 04:15:09", east).unwrap(), t);
        assert_eq!(from_provider_text("2024-02-29 14:45:09", west).unwrap(), t);
        assert!(from_provider_text("2024-02-30 00:00:00", east).is_err());
        assert!(from_provider_text("2024-02-29T14:45:09Z", east).is_err());
    }
}
