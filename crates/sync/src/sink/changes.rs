//! What changed between the stored version of a record and the one just listed: the rows
//! of the `invitee_changes` table.
//!
//! The first sighting of a record is one change with field `*`; after that, one change per
//! tracked column whose value differs. A record listed again unchanged yields none, so a
//! run that changes nothing writes nothing.

use affiliate_core::Invitee;

use super::row::{value_cells, COLUMNS};

/// The columns whose changes are recorded (every stored column but the key and
/// `synced_at`), in [`COLUMNS`](super::COLUMNS) order.
pub const TRACKED: [&str; 10] = {
    let mut tracked = [""; 10];
    let mut i = 0;
    while i < tracked.len() {
        tracked[i] = COLUMNS[i + 3];
        i += 1;
    }
    tracked
};

/// The tracked cells of one version, as the sinks store them in text form.
pub(crate) type Tracked = [Option<String>; 10];

/// One row of `invitee_changes` (without the key, run and time, which the sink adds).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Change {
    /// The column that changed, or `*` for the first sighting.
    pub(crate) field: &'static str,
    /// The stored value (`None` for the first sighting or an empty cell).
    pub(crate) old: Option<String>,
    /// The new value.
    pub(crate) new: Option<String>,
    /// For `total_paid_micro`, new minus old (a missing amount counts as 0); else `None`.
    pub(crate) delta_micro: Option<i64>,
}

/// The tracked cells of `invitee`.
pub(crate) fn tracked(invitee: &Invitee) -> Tracked {
    value_cells(invitee)
}

/// The changes from `stored` (`None`: never seen) to `new`.
pub(crate) fn diff(stored: Option<&Tracked>, new: &Tracked) -> Vec<Change> {
    let Some(stored) = stored else {
        return vec![Change {
            field: "*",
            old: None,
            new: None,
            delta_micro: None,
        }];
    };
    TRACKED
        .iter()
        .zip(stored.iter().zip(new))
        .filter(|(_, (old, new))| old != new)
        .map(|(field, (old, new))| Change {
            field,
            old: old.clone(),
            new: new.clone(),
            delta_micro: (*field == "total_paid_micro").then(|| micro(new) - micro(old)),
        })
        .collect()
}

/// A micro-unit cell as a number (an empty or unreadable cell counts as 0).
fn micro(cell: &Option<String>) -> i64 {
    cell.as_deref().and_then(|t| t.parse().ok()).unwrap_or(0)
}

#[cfg(test)]
mod tests {
    use affiliate_core::{InviteeStatus, Provider, SourceId};

    use super::*;

    fn paid(amount: Option<i64>, status: InviteeStatus) -> Tracked {
        let mut invitee = Invitee::new(SourceId::new(Provider::Triport, "a"), "u1", status);
        invitee.total_paid_micro = amount;
        tracked(&invitee)
    }

    #[test]
    fn first_sighting_then_one_change_per_field_then_nothing() {
        let first = paid(Some(1_000_000), InviteeStatus::Invited);
        assert_eq!(diff(None, &first)[0].field, "*");
        let later = paid(Some(3_500_000), InviteeStatus::Joined);
        let changes = diff(Some(&first), &later);
        let fields: Vec<_> = changes.iter().map(|c| c.field).collect();
        assert_eq!(fields, ["status", "total_paid_micro"]);
        assert_eq!(changes[1].delta_micro, Some(2_500_000));
        assert_eq!(changes[0].delta_micro, None);
        assert!(diff(Some(&later), &later).is_empty());
        let from_nothing = diff(Some(&paid(None, InviteeStatus::Joined)), &later);
        assert_eq!(from_nothing[0].delta_micro, Some(3_500_000));
    }

    #[test]
    fn tracked_columns_are_the_stored_ones_but_key_and_synced_at() {
        assert_eq!(TRACKED[0], "status");
        assert_eq!(TRACKED[9], "extra");
        assert!(!TRACKED.contains(&"synced_at") && !TRACKED.contains(&"id"));
    }
}
