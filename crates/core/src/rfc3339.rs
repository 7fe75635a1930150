//! RFC 3339 text of a UTC instant, written without `core::fmt`.
//!
//! chrono's `Serialize` for `DateTime` goes through `Display` and serde's `collect_str`,
//! which hands serde_json one character at a time to escape: it was a sixth of all the
//! instructions of a sync into NDJSON. The same text is written here into a stack buffer
//! and passed on as one `&str`; a property test checks it against chrono's own output.

use chrono::{DateTime, Datelike, Timelike, Utc};

/// How many fraction digits to write.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Fraction {
    /// As few as show the instant exactly: none, 3, 6 or 9 (chrono's `SecondsFormat::AutoSi`,
    /// what its `Serialize` writes).
    Auto,
    /// Always 6 (chrono's `SecondsFormat::Micros`): text order is time order.
    Micros,
}

/// An RFC 3339 timestamp ending in `Z`, at most 35 bytes (`+262143-12-31T23:59:60.999999999Z`).
#[derive(Clone, Copy)]
pub struct Rfc3339 {
    buf: [u8; 40],
    len: usize,
}

impl Rfc3339 {
    /// Formats `at` as chrono's `to_rfc3339_opts(format, true)` does.
    ///
    /// ```
    /// use affiliate_core::rfc3339::{Fraction, Rfc3339};
    /// use chrono::{TimeZone, Utc};
    ///
    /// let at = Utc.with_ymd_and_hms(2026, 12, 3, 13, 5, 9).unwrap();
    /// assert_eq!(Rfc3339::new(at, Fraction::Auto).as_str(), "2026-12-03T13:05:09Z");
    /// assert_eq!(Rfc3339::new(at, Fraction::Micros).as_str(), "2026-12-03T13:05:09.000000Z");
    /// ```
    pub fn new(at: DateTime<Utc>, fraction: Fraction) -> Self {
        let mut out = Self {
            buf: [0; 40],
            len: 0,
        };
        // Read the fields off the naive value: `DateTime`'s accessors apply the offset anew
        // on every call.
        let (date, time) = (at.date_naive(), at.time());
        out.year(date.year());
        out.push(b'-');
        out.digits(date.month(), 2);
        out.push(b'-');
        out.digits(date.day(), 2);
        out.push(b'T');
        let secs = time.num_seconds_from_midnight();
        out.digits(secs / 3600, 2);
        out.push(b':');
        out.digits(secs / 60 % 60, 2);
        out.push(b':');
        // chrono keeps a leap second as a nanosecond count past 999,999,999.
        let (leap, nanos) = match time.nanosecond() {
            n if n >= 1_000_000_000 => (1, n - 1_000_000_000),
            n => (0, n),
        };
        out.digits(secs % 60 + leap, 2);
        out.fraction(nanos, fraction);
        out.push(b'Z');
        out
    }

    /// The text.
    pub fn as_str(&self) -> &str {
        // Only ASCII digits and punctuation are ever written.
        std::str::from_utf8(&self.buf[..self.len]).unwrap_or_default()
    }

    fn push(&mut self, byte: u8) {
        self.buf[self.len] = byte;
        self.len += 1;
    }

    /// `value` in exactly `width` digits (it always fits: callers pass values below 10^width).
    fn digits(&mut self, mut value: u32, width: usize) {
        for i in (0..width).rev() {
            self.buf[self.len + i] = b'0' + (value % 10) as u8;
            value /= 10;
        }
        self.len += width;
    }

    /// Four digits for years 0..=9999; otherwise a sign and at least four digits, as
    /// chrono writes them.
    fn year(&mut self, year: i32) {
        if (0..=9999).contains(&year) {
            self.digits(year as u32, 4);
            return;
        }
        self.push(if year < 0 { b'-' } else { b'+' });
        let magnitude = year.unsigned_abs();
        let width = magnitude
            .checked_ilog10()
            .map_or(1, |d| d as usize + 1)
            .max(4);
        self.digits(magnitude, width);
    }

    fn fraction(&mut self, nanos: u32, fraction: Fraction) {
        let (value, width) = match fraction {
            Fraction::Micros => (nanos / 1_000, 6),
            Fraction::Auto if nanos == 0 => return,
            Fraction::Auto if nanos % 1_000_000 == 0 => (nanos / 1_000_000, 3),
            Fraction::Auto if nanos % 1_000 == 0 => (nanos / 1_000, 6),
            Fraction::Auto => (nanos, 9),
        };
        self.push(b'.');
        self.digits(value, width);
    }
}

impl serde::Serialize for Rfc3339 {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(self.as_str())
    }
}

impl std::fmt::Debug for Rfc3339 {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Serialises an instant as [`Fraction::Auto`] text (what chrono's `Serialize` writes),
/// for `#[serde(serialize_with)]`.
pub fn serialize<S: serde::Serializer>(
    at: &DateTime<Utc>,
    serializer: S,
) -> Result<S::Ok, S::Error> {
    serializer.serialize_str(Rfc3339::new(*at, Fraction::Auto).as_str())
}

#[cfg(test)]
mod tests {
    use chrono::{NaiveDate, SecondsFormat, TimeZone};
    use proptest::prelude::*;

    use super::*;

    fn chrono_text(at: DateTime<Utc>, fraction: Fraction) -> String {
        let format = match fraction {
            Fraction::Auto => SecondsFormat::AutoSi,
            Fraction::Micros => SecondsFormat::Micros,
        };
        at.to_rfc3339_opts(format, true)
    }

    fn check(at: DateTime<Utc>) {
        for fraction in [Fraction::Auto, Fraction::Micros] {
            assert_eq!(
                Rfc3339::new(at, fraction).as_str(),
                chrono_text(at, fraction),
                "{at:?}"
            );
        }
        assert_eq!(
            serde_json::to_string(&at).unwrap(),
            format!("\"{}\"", Rfc3339::new(at, Fraction::Auto).as_str()),
            "what chrono's Serialize writes"
        );
    }

    #[test]
    fn edges_match_chrono() {
        let leap = NaiveDate::from_ymd_opt(2016, 12, 31)
            .and_then(|d| d.and_hms_nano_opt(23, 59, 59, 1_500_000_000))
            .unwrap()
            .and_utc();
        for at in [
            DateTime::<Utc>::MIN_UTC,
            DateTime::<Utc>::MAX_UTC,
            DateTime::<Utc>::UNIX_EPOCH,
            Utc.with_ymd_and_hms(-1, 1, 1, 0, 0, 0).unwrap(),
            Utc.with_ymd_and_hms(10_000, 1, 1, 0, 0, 0).unwrap(),
            leap,
        ] {
            check(at);
        }
    }

    proptest! {
        #[test]
        fn any_instant_matches_chrono(
            secs in DateTime::<Utc>::MIN_UTC.timestamp()..=DateTime::<Utc>::MAX_UTC.timestamp(),
            nanos in prop_oneof![Just(0u32), (0..1000u32).prop_map(|m| m * 1_000_000),
                                 (0..1_000_000u32).prop_map(|u| u * 1_000), 0..1_000_000_000u32],
        ) {
            if let Some(at) = DateTime::from_timestamp(secs, nanos) {
                check(at);
            }
        }
    }
}
