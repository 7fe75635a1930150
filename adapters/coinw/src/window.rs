//! Splitting a listing's `[since, until]` into registration-time windows.
//!
//! Windows follow the calendar **in the provider's offset** (months by default) and
//! **overlap by one second**: each window ends at the second the next one starts. CoinW does
//! not say whether `endTime` is inclusive or whether times have sub-second precision; with
//! the overlap, a registration on an edge is listed whichever way it reads them (inclusive
//! at whole seconds, exclusive `endTime`, or millisecond times), and listed at most once,
//! because one listing de-duplicates across its windows.
//! The first window starts at `since`, the last one ends at `until`; windows are returned
//! **newest first**, the order CoinW lists rows in.
//!
//! ```
//! use affiliate_coinw::window::{calendar_windows, WindowLength};
//! use affiliate_coinw::zone::{parse_utc_offset, to_provider_text};
//! use chrono::{TimeZone, Utc};
//!
//! let cst = parse_utc_offset("+08:00")?;
//! let since = Utc.with_ymd_and_hms(2024, 1, 15, 0, 0, 0).unwrap();
//! let until = Utc.with_ymd_and_hms(2024, 3, 10, 0, 0, 0).unwrap();
//! let windows = calendar_windows(since, until, WindowLength::Months(1), cst)?;
//! let shown: Vec<_> = windows
//!     .iter()
//!     .map(|w| (to_provider_text(w.start, cst), to_provider_text(w.end, cst)))
//!     .collect();
//! assert_eq!(shown[1], ("2024-02-01 00:00:00".into(), "2024-03-01 00:00:00".into()));
//! # Ok::<(), affiliate_coinw::CoinwError>(())
//! ```

use affiliate_core::Window;
use chrono::{
    DateTime, Datelike, Days, FixedOffset, Months, NaiveDate, NaiveDateTime, NaiveTime, Utc,
};

use crate::zone::{floor_second, local_to_utc};
use crate::CoinwError;

/// Most windows one listing may plan (a guard against a since in year 1 with daily windows).
pub const MAX_WINDOWS: usize = 200_000;

/// How long one calendar window is, in the provider's offset.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum WindowLength {
    /// `n` calendar months, aligned to the first day of a month at 00:00:00.
    Months(u32),
    /// `n` days, aligned to 00:00:00.
    Days(u32),
}

impl Default for WindowLength {
    /// One calendar month.
    fn default() -> Self {
        WindowLength::Months(1)
    }
}

impl std::str::FromStr for WindowLength {
    type Err = String;

    /// `"1 month"`, `"3 months"`, `"7 days"`, `"2 weeks"` (or `"1mo"`, `"7d"`, `"2w"`).
    ///
    /// ```
    /// use affiliate_coinw::WindowLength;
    /// assert_eq!("2w".parse(), Ok(WindowLength::Days(14)));
    /// assert!("fortnightly".parse::<WindowLength>().is_err());
    /// ```
    fn from_str(text: &str) -> Result<Self, String> {
        const EXPECTED: &str =
            "a length such as \"1 month\", \"3 months\", \"7 days\" or \"2 weeks\"";
        let trimmed = text.trim();
        let digits = trimmed
            .find(|c: char| !c.is_ascii_digit())
            .unwrap_or(trimmed.len());
        let (number, unit) = trimmed.split_at(digits);
        let n: u32 = number
            .parse()
            .map_err(|_| format!("{text:?} is not {EXPECTED}"))?;
        if n == 0 {
            return Err(format!("{text:?} is empty; expected {EXPECTED}"));
        }
        match unit.trim() {
            "mo" | "month" | "months" => Ok(WindowLength::Months(n)),
            "d" | "day" | "days" => Ok(WindowLength::Days(n)),
            "w" | "week" | "weeks" => n
                .checked_mul(7)
                .map(WindowLength::Days)
                .ok_or_else(|| format!("{text:?} is too long")),
            _ => Err(format!("{text:?} has an unknown unit; expected {EXPECTED}")),
        }
    }
}

impl WindowLength {
    /// True for a zero-length setting (refused by the builder).
    pub fn is_zero(&self) -> bool {
        matches!(self, WindowLength::Months(0) | WindowLength::Days(0))
    }

    /// The calendar boundary at or before `local` (start of its month or day).
    fn align(&self, local: NaiveDateTime) -> Option<NaiveDate> {
        match self {
            WindowLength::Months(_) => NaiveDate::from_ymd_opt(local.year(), local.month(), 1),
            WindowLength::Days(_) => Some(local.date()),
        }
    }

    /// The next boundary after `boundary`.
    fn advance(&self, boundary: NaiveDate) -> Option<NaiveDate> {
        match *self {
            WindowLength::Months(n) => boundary.checked_add_months(Months::new(n)),
            WindowLength::Days(n) => boundary.checked_add_days(Days::new(u64::from(n))),
        }
    }
}

/// The windows covering `[since, until]` (both floored to the second), newest first.
///
/// Fails when `since` is after `until`, the length is zero, or the plan would exceed
/// [`MAX_WINDOWS`].
pub fn calendar_windows(
    since: DateTime<Utc>,
    until: DateTime<Utc>,
    length: WindowLength,
    offset: FixedOffset,
) -> Result<Vec<Window>, CoinwError> {
    let since = floor_second(since);
    let until = floor_second(until);
    if since > until {
        return Err(CoinwError::Config(format!(
            "since ({since}) is after until ({until})"
        )));
    }
    if length.is_zero() {
        return Err(CoinwError::Config(
            "the window length must not be zero".into(),
        ));
    }
    let mut boundary = length.align(since.with_timezone(&offset).naive_local());
    let mut start = since;
    let mut out = Vec::new();
    loop {
        let next = boundary.and_then(|b| length.advance(b));
        let next_start = next.and_then(|d| local_to_utc(d.and_time(NaiveTime::MIN), offset));
        let end = match next_start {
            Some(n) if n < until => n,
            _ => until,
        };
        out.push(Window { start, end });
        if out.len() > MAX_WINDOWS {
            return Err(CoinwError::Config(format!(
                "more than {MAX_WINDOWS} windows between {since} and {until}: use a longer window length or a later since"
            )));
        }
        if end >= until {
            break;
        }
        start = end;
        boundary = next;
    }
    out.reverse();
    Ok(out)
}

/// Splits a window into two halves that overlap by one second like neighbouring windows
/// (`[start, mid]` and `[mid, end]`), older half first; `None` for a window of less than
/// three seconds, whose halves would not be smaller.
pub fn halve(window: Window) -> Option<(Window, Window)> {
    let span = (window.end - window.start).num_seconds();
    if span < 2 {
        return None;
    }
    let mid = window.start + chrono::Duration::seconds(span / 2);
    Some((
        Window {
            start: window.start,
            end: mid,
        },
        Window {
            start: mid,
            end: window.end,
        },
    ))
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    fn utc(y: i32, m: u32, d: u32, h: u32, mi: u32, s: u32) -> DateTime<Utc> {
        Utc.with_ymd_and_hms(y, m, d, h, mi, s).unwrap()
    }

    #[test]
    fn lengths_parse() {
        let parse = |t: &str| t.parse::<WindowLength>();
        assert_eq!(parse("1 month"), Ok(WindowLength::Months(1)));
        assert_eq!(parse("3mo"), Ok(WindowLength::Months(3)));
        assert_eq!(parse("7 days"), Ok(WindowLength::Days(7)));
        assert_eq!(parse("2w"), Ok(WindowLength::Days(14)));
        assert!(parse("0 days").is_err());
        assert!(parse("monthly").is_err());
        assert!(parse("99999999999 days").is_err());
    }

    #[test]
    fn a_single_second_is_one_window() {
        let t = utc(2024, 1, 1, 0, 0, 0);
        let w = calendar_windows(
            t,
            t,
            WindowLength::default(),
            FixedOffset::east_opt(0).unwrap(),
        )
        .unwrap();
        assert_eq!(w, vec![Window { start: t, end: t }]);
        assert!(halve(w[0]).is_none());
    }

    #[test]
    fn halves_overlap_by_one_second_and_shrink() {
        let w = Window {
            start: utc(2024, 1, 1, 0, 0, 0),
            end: utc(2024, 1, 1, 0, 0, 4),
        };
        let (a, b) = halve(w).unwrap();
        assert_eq!((a.start, a.end), (w.start, utc(2024, 1, 1, 0, 0, 2)));
        assert_eq!((b.start, b.end), (utc(2024, 1, 1, 0, 0, 2), w.end));
        let short = Window {
            start: w.start,
            end: utc(2024, 1, 1, 0, 0, 1),
        };
        assert!(
            halve(short).is_none(),
            "halves of two seconds would not be smaller"
        );
    }

    #[test]
    fn neighbouring_windows_share_their_edge_second() {
        let cst = FixedOffset::east_opt(8 * 3600).unwrap();
        let windows = calendar_windows(
            utc(2024, 1, 10, 0, 0, 0),
            utc(2024, 3, 10, 0, 0, 0),
            WindowLength::Months(1),
            cst,
        )
        .unwrap();
        for pair in windows.windows(2) {
            // Newest first: the older window ends where the newer one starts.
            assert_eq!(pair[1].end, pair[0].start);
        }
        assert_eq!(windows.len(), 3);
    }

    #[test]
    fn sub_seconds_are_dropped() {
        let since = utc(2024, 1, 1, 0, 0, 0) + chrono::Duration::milliseconds(700);
        let until = utc(2024, 1, 1, 0, 0, 5) + chrono::Duration::milliseconds(300);
        let w = calendar_windows(
            since,
            until,
            WindowLength::default(),
            FixedOffset::east_opt(0).unwrap(),
        )
        .unwrap();
        assert_eq!(w[0].start, utc(2024, 1, 1, 0, 0, 0));
        assert_eq!(w[0].end, utc(2024, 1, 1, 0, 0, 5));
    }

    #[test]
    fn the_window_guard_holds() {
        let err = calendar_windows(
            utc(1000, 1, 1, 0, 0, 0),
            utc(2024, 1, 1, 0, 0, 0),
            WindowLength::Days(1),
            FixedOffset::east_opt(0).unwrap(),
        )
        .unwrap_err();
        assert!(err.to_string().contains("windows"), "{err}");
    }
}
