//! Per-provider totals over the `invitees` table, computed in one pass over its rows.
//!
//! * **invitees**: rows;
//! * **joined**: rows whose status is `joined`;
//! * **joined in the last 30 days**: joined rows whose join time is within 30 days;
//! * **paying**: rows with `total_paid_micro > 0`;
//! * **total paid**: the sum of `total_paid_micro`;
//! * **first / last joined** and **sign-ups per week** (weeks start on Monday, UTC).
//!
//! With a period (`report --since … [--until …]`), from the `invitee_changes` history:
//!
//! * **sign-ups in the period**: rows whose join time is in it;
//! * **new paying**: `total_paid_micro` changes observed in the period that took a row from
//!   nothing (or zero) to a positive amount;
//! * **paid in the period**: the sum of the money deltas observed in it, and **paid per
//!   week**. The history starts at a record's first sync: what was paid before it is in
//!   the lifetime total but in no period.
//!
//! The join time is `joined_at`; a joined row without one (Prefactor records only when the
//! invite was last updated, which for a used invite is when it was used) counts at its
//! `updated_at`.

use std::collections::{BTreeMap, BTreeSet};

use chrono::{DateTime, Datelike, Days, NaiveDate, TimeDelta, Utc};
use serde::Serialize;

/// The columns of one row that the totals need.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct RowFacts {
    /// `provider`.
    pub(crate) provider: String,
    /// `account`.
    pub(crate) account: String,
    /// `status`.
    pub(crate) status: String,
    /// `joined_at`.
    pub(crate) joined_at: Option<DateTime<Utc>>,
    /// `updated_at`.
    pub(crate) updated_at: Option<DateTime<Utc>>,
    /// `total_paid_micro`.
    pub(crate) total_paid_micro: Option<i64>,
}

/// One `total_paid_micro` change of the history.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct PaidChange {
    /// `provider`.
    pub(crate) provider: String,
    /// When it was observed.
    pub(crate) observed_at: DateTime<Utc>,
    /// The amount before (`None`: none).
    pub(crate) old: Option<i64>,
    /// The amount after.
    pub(crate) new: Option<i64>,
    /// New minus old.
    pub(crate) delta_micro: i64,
}

/// `[since, until)`: the period a report covers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Period {
    /// First instant in the period.
    pub(crate) since: DateTime<Utc>,
    /// First instant after it.
    pub(crate) until: DateTime<Utc>,
}

impl Period {
    fn contains(&self, at: DateTime<Utc>) -> bool {
        self.since <= at && at < self.until
    }
}

/// What happened in the period, per provider.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub(crate) struct PeriodStats {
    /// Rows whose join time is in the period.
    pub(crate) signups: u64,
    /// Rows that became paying in the period.
    pub(crate) new_paying: u64,
    /// Sum of the money deltas observed in the period.
    pub(crate) paid_micro: i128,
}

/// The totals of one provider.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub(crate) struct ProviderStats {
    /// The provider.
    pub(crate) provider: String,
    /// Its account labels.
    pub(crate) accounts: BTreeSet<String>,
    /// Rows.
    pub(crate) invitees: u64,
    /// Rows with status `joined`.
    pub(crate) joined: u64,
    /// Joined within the 30 days before the report.
    pub(crate) joined_last_30_days: u64,
    /// Rows with `total_paid_micro > 0`.
    pub(crate) paying: u64,
    /// Sum of `total_paid_micro` (micro-units).
    pub(crate) total_paid_micro: i128,
    /// Earliest join time.
    pub(crate) first_joined: Option<DateTime<Utc>>,
    /// Latest join time.
    pub(crate) last_joined: Option<DateTime<Utc>>,
    /// Sign-ups per week (keyed by the week's Monday).
    pub(crate) signups_per_week: BTreeMap<NaiveDate, u64>,
    /// Money deltas observed per week (in the period, when there is one), micro-units.
    pub(crate) paid_per_week: BTreeMap<NaiveDate, i128>,
    /// The period's figures, when the report has a period.
    pub(crate) period: Option<PeriodStats>,
}

/// Totals per provider, as of `now`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Stats {
    now: DateTime<Utc>,
    period: Option<Period>,
    providers: BTreeMap<String, ProviderStats>,
}

impl Stats {
    /// Empty totals as of `now`, over `period` when given.
    pub(crate) fn new(now: DateTime<Utc>, period: Option<Period>) -> Self {
        Self {
            now,
            period,
            providers: BTreeMap::new(),
        }
    }

    /// The period the report covers, if any.
    pub(crate) fn period(&self) -> Option<Period> {
        self.period
    }

    fn provider(&mut self, name: &str) -> &mut ProviderStats {
        let period = self.period.map(|_| PeriodStats::default());
        self.providers
            .entry(name.to_owned())
            .or_insert_with(|| ProviderStats {
                provider: name.to_owned(),
                period,
                ..ProviderStats::default()
            })
    }

    /// Counts one money change of the history.
    pub(crate) fn add_paid(&mut self, change: &PaidChange) {
        let period = self.period;
        if period.is_some_and(|p| !p.contains(change.observed_at)) {
            return;
        }
        let stats = self.provider(&change.provider);
        *stats
            .paid_per_week
            .entry(week_of(change.observed_at))
            .or_default() += i128::from(change.delta_micro);
        if let Some(figures) = &mut stats.period {
            figures.paid_micro += i128::from(change.delta_micro);
            if change.old.unwrap_or(0) <= 0 && change.new.unwrap_or(0) > 0 {
                figures.new_paying += 1;
            }
        }
    }

    /// Counts one row.
    pub(crate) fn add(&mut self, row: &RowFacts) {
        let (now, period) = (self.now, self.period);
        let stats = self.provider(&row.provider);
        if !stats.accounts.contains(&row.account) {
            stats.accounts.insert(row.account.clone());
        }
        stats.invitees += 1;
        let joined = row.status == "joined";
        if joined {
            stats.joined += 1;
        }
        if row.total_paid_micro.is_some_and(|p| p > 0) {
            stats.paying += 1;
        }
        stats.total_paid_micro += i128::from(row.total_paid_micro.unwrap_or(0));
        let join_time = row.joined_at.or(if joined { row.updated_at } else { None });
        if let (Some(at), Some(figures)) = (join_time, &mut stats.period) {
            if period.is_some_and(|p| p.contains(at)) {
                figures.signups += 1;
            }
        }
        if let Some(at) = join_time {
            if at <= now && now - at <= TimeDelta::days(30) {
                stats.joined_last_30_days += 1;
            }
            stats.first_joined = Some(stats.first_joined.map_or(at, |t| t.min(at)));
            stats.last_joined = Some(stats.last_joined.map_or(at, |t| t.max(at)));
            *stats.signups_per_week.entry(week_of(at)).or_default() += 1;
        }
    }

    /// The providers, by name.
    pub(crate) fn providers(&self) -> impl Iterator<Item = &ProviderStats> {
        self.providers.values()
    }

    /// True when no row was counted.
    pub(crate) fn is_empty(&self) -> bool {
        self.providers.is_empty()
    }
}

/// The Monday starting the week of `at` (UTC).
pub(crate) fn week_of(at: DateTime<Utc>) -> NaiveDate {
    let day = at.date_naive();
    let back = u64::from(day.weekday().num_days_from_monday());
    day.checked_sub_days(Days::new(back)).unwrap_or(day)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(s: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(s).unwrap().with_timezone(&Utc)
    }

    #[test]
    fn totals() {
        let mut stats = Stats::new(at("2024-03-31T00:00:00Z"), None);
        let row = |provider: &str, status: &str, joined: Option<&str>, paid| RowFacts {
            provider: provider.into(),
            account: "a".into(),
            status: status.into(),
            joined_at: joined.map(at),
            updated_at: Some(at("2024-03-20T00:00:00Z")),
            total_paid_micro: paid,
        };
        stats.add(&row(
            "triport",
            "joined",
            Some("2024-03-30T10:00:00Z"),
            Some(1_500_000),
        ));
        stats.add(&row(
            "triport",
            "joined",
            Some("2024-01-01T10:00:00Z"),
            Some(0),
        ));
        stats.add(&row("prefactor", "joined", None, None));
        stats.add(&row("prefactor", "invited", None, None));
        let p: Vec<_> = stats.providers().collect();
        assert_eq!(p[0].provider, "prefactor");
        assert_eq!(
            (p[0].invitees, p[0].joined, p[0].joined_last_30_days),
            (2, 1, 1)
        );
        assert_eq!(p[1].paying, 1);
        assert_eq!(p[1].total_paid_micro, 1_500_000);
        assert_eq!(p[1].joined_last_30_days, 1);
        assert_eq!(p[1].first_joined, Some(at("2024-01-01T10:00:00Z")));
        assert_eq!(p[1].signups_per_week.len(), 2);
    }

    #[test]
    fn weeks_start_on_monday() {
        // 2024-03-31 is a Sunday.
        assert_eq!(
            week_of(at("2024-03-31T23:00:00Z")),
            NaiveDate::from_ymd_opt(2024, 3, 25).unwrap()
        );
        assert_eq!(
            week_of(at("2024-03-25T00:00:00Z")),
            NaiveDate::from_ymd_opt(2024, 3, 25).unwrap()
        );
    }
}
