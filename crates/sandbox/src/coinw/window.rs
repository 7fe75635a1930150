//! CoinW's registration-time window: the zone-less `yyyy-MM-dd HH:mm:ss` times, the
//! current-month default, and the readings of `endTime` the emulator can take.

use chrono::{
    DateTime, Datelike, Duration, FixedOffset, Months, NaiveDate, NaiveDateTime, NaiveTime,
    TimeZone, Utc,
};

use crate::Dataset;

/// The documented time format of `startTime`, `endTime` and `registerTime`.
const TIME_FORMAT: &str = "%Y-%m-%d %H:%M:%S";

/// How the emulator reads `endTime`. CoinW documents only "filtered by registration time"
/// at second resolution; these are the readings a real server may take. `startTime` is
/// inclusive in all of them, and a missing `endTime` (the end of the current month) covers
/// the whole month in all of them.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
#[non_exhaustive]
pub enum EndTime {
    /// A row whose displayed (whole-second) `registerTime` is at or before `endTime` is in
    /// the window: `endTime=23:59:59` includes a row registered at `23:59:59.500`.
    #[default]
    InclusiveSeconds,
    /// `endTime` is exclusive: a row registered at exactly `endTime` (or later within that
    /// second) is not returned.
    Exclusive,
    /// Registration times keep their milliseconds and `endTime` is an inclusive instant at
    /// `.000`: a row at `23:59:59.500` is outside `endTime=23:59:59` (its `registerTime` is
    /// still printed as `23:59:59`). [`super::CoinwConfig::new`]'s rows sit at whole
    /// seconds; give them a fraction with `newest_at` or a sub-second `spacing`.
    Milliseconds,
}

impl EndTime {
    /// The exclusive upper bound (millisecond precision) of the rows an explicit `endTime`
    /// (a whole second) lets in.
    pub(super) fn upper_bound(self, end: DateTime<Utc>) -> DateTime<Utc> {
        match self {
            EndTime::InclusiveSeconds => end + Duration::seconds(1),
            EndTime::Exclusive => end,
            EndTime::Milliseconds => end + Duration::milliseconds(1),
        }
    }
}

/// When row `seq` registered, at the API's second resolution.
pub(super) fn registered_at(data: &Dataset, seq: u64) -> DateTime<Utc> {
    let t = data.created_at(seq);
    DateTime::from_timestamp(t.timestamp(), 0).unwrap_or(t)
}

/// The rows registered at or after `start` and before `upper` (millisecond precision).
pub(super) fn rows_in(data: &Dataset, start: DateTime<Utc>, upper: DateTime<Utc>) -> (u64, u64) {
    if upper <= start {
        return (0, 0);
    }
    data.range_between(start, upper - Duration::milliseconds(1))
}

/// `t` as the API prints it, in `offset`.
pub(super) fn local_text(t: DateTime<Utc>, offset: FixedOffset) -> String {
    t.with_timezone(&offset).format(TIME_FORMAT).to_string()
}

/// The start of the current month (in `offset`) at `now`, and the start of the next one
/// (the exclusive upper bound of the default window).
pub(super) fn month_bounds(
    now: DateTime<Utc>,
    offset: FixedOffset,
) -> Option<(DateTime<Utc>, DateTime<Utc>)> {
    let local = now.with_timezone(&offset).date_naive();
    let first = NaiveDate::from_ymd_opt(local.year(), local.month(), 1)?;
    let next = first.checked_add_months(Months::new(1))?;
    let start = offset
        .from_local_datetime(&first.and_time(NaiveTime::MIN))
        .single()?;
    let end = offset
        .from_local_datetime(&next.and_time(NaiveTime::MIN))
        .single()?;
    Some((start.with_timezone(&Utc), end.with_timezone(&Utc)))
}

/// A `yyyy-MM-dd HH:mm:ss` time in `offset`.
pub(super) fn parse_time(text: &str, offset: FixedOffset) -> Option<DateTime<Utc>> {
    let naive = NaiveDateTime::parse_from_str(text, TIME_FORMAT).ok()?;
    offset
        .from_local_datetime(&naive)
        .single()
        .map(|t| t.with_timezone(&Utc))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_default_window_is_the_current_month_in_the_offset() {
        let offset = FixedOffset::east_opt(8 * 3600).unwrap();
        // 2024-02-29 20:00 UTC is already 2024-03-01 04:00 at +08:00.
        let now = Utc.with_ymd_and_hms(2024, 2, 29, 20, 0, 0).unwrap();
        let (start, next) = month_bounds(now, offset).unwrap();
        assert_eq!(local_text(start, offset), "2024-03-01 00:00:00");
        assert_eq!(local_text(next, offset), "2024-04-01 00:00:00");
        assert_eq!(start, Utc.with_ymd_and_hms(2024, 2, 29, 16, 0, 0).unwrap());
    }

    #[test]
    fn times_parse_in_the_offset() {
        let offset = FixedOffset::east_opt(8 * 3600).unwrap();
        let t = parse_time("2021-09-09 14:43:18", offset).unwrap();
        assert_eq!(t, Utc.with_ymd_and_hms(2021, 9, 9, 6, 43, 18).unwrap());
        assert!(parse_time("2021-09-09T14:43:18", offset).is_none());
    }

    #[test]
    fn each_reading_places_the_end_bound() {
        // Rows at :58.500, :59.000, :59.500 and :00.000 of the next minute.
        let t0 =
            Utc.with_ymd_and_hms(2024, 1, 31, 23, 59, 58).unwrap() + Duration::milliseconds(500);
        let data = Dataset::new(
            1,
            4,
            t0 + Duration::milliseconds(1_500),
            Duration::milliseconds(500),
        );
        let start = Utc.with_ymd_and_hms(2024, 1, 31, 23, 59, 0).unwrap();
        let end = Utc.with_ymd_and_hms(2024, 1, 31, 23, 59, 59).unwrap();
        let rows = |reading: EndTime| rows_in(&data, start, reading.upper_bound(end));
        assert_eq!(rows(EndTime::InclusiveSeconds), (0, 3));
        assert_eq!(rows(EndTime::Exclusive), (0, 1));
        assert_eq!(rows(EndTime::Milliseconds), (0, 2));
        assert_eq!(rows_in(&data, end, end), (0, 0));
        assert_eq!(
            local_text(registered_at(&data, 2), FixedOffset::east_opt(0).unwrap()),
            "2024-01-31 23:59:59"
        );
    }
}
