//! The one flat row layout every sink stores, and the text encodings they share.

use affiliate_core::rfc3339::{Fraction, Rfc3339};
use affiliate_core::Invitee;
use chrono::{DateTime, Utc};

use super::json_text;

/// The columns every sink stores, in order (the CSV header, the table's columns).
pub const COLUMNS: [&str; 14] = [
    "provider",
    "account",
    "id",
    "status",
    "invited_at",
    "joined_at",
    "updated_at",
    "display_name",
    "email",
    "total_paid_micro",
    "role",
    "invited_by",
    "extra",
    "synced_at",
];

/// RFC 3339 in UTC with a fixed six-digit fraction, so text order is time order.
pub(crate) fn format_time(at: DateTime<Utc>) -> String {
    Rfc3339::new(at, Fraction::Micros).as_str().to_owned()
}

/// Parses what [`format_time`] wrote (any RFC 3339 instant is accepted).
#[cfg_attr(not(feature = "sqlite"), allow(dead_code))]
pub(crate) fn parse_time(text: &str) -> Result<DateTime<Utc>, chrono::ParseError> {
    DateTime::parse_from_rfc3339(text).map(|t| t.with_timezone(&Utc))
}

/// The `extra` column: a JSON object, or `None` when the record has no extras.
pub(crate) fn extra_json(invitee: &Invitee) -> Option<String> {
    if invitee.extra.is_empty() {
        None
    } else {
        let mut text = String::with_capacity(256);
        json_text::object(&mut text, &invitee.extra);
        Some(text)
    }
}

/// The sink key of a record as one string (provider, account, id joined by U+001F).
pub(crate) fn row_key(invitee: &Invitee) -> String {
    key_of(
        invitee.source.provider.as_str(),
        &invitee.source.account,
        &invitee.id,
    )
}

/// [`row_key`] from its parts.
pub(crate) fn key_of(provider: &str, account: &str, id: &str) -> String {
    format!("{provider}\u{1f}{account}\u{1f}{id}")
}

/// A record as the 14 text cells of [`COLUMNS`] (`None` is an empty/NULL cell).
pub(crate) fn text_cells(invitee: &Invitee, synced_at: DateTime<Utc>) -> [Option<String>; 14] {
    let [status, invited, joined, updated, name, email, paid, role, by, extra] =
        value_cells(invitee);
    [
        Some(invitee.source.provider.as_str().to_owned()),
        Some(invitee.source.account.clone()),
        Some(invitee.id.clone()),
        status,
        invited,
        joined,
        updated,
        name,
        email,
        paid,
        role,
        by,
        extra,
        Some(format_time(synced_at)),
    ]
}

/// The 10 cells between the key and `synced_at` (`status` to `extra`): what a change is
/// tracked on.
pub(crate) fn value_cells(invitee: &Invitee) -> [Option<String>; 10] {
    let mut cells: [Option<String>; 10] = Default::default();
    let mut next = cells.iter_mut();
    visit_value_cells(invitee, |cell| {
        if let Some(slot) = next.next() {
            *slot = cell.map(str::to_owned);
        }
    });
    cells
}

/// Hands the 10 value cells of [`value_cells`] to `visit` in order, borrowing the text the
/// record already holds (times are formatted on the stack): the file sinks digest them
/// without building a string per cell.
pub(crate) fn visit_value_cells(invitee: &Invitee, mut visit: impl FnMut(Option<&str>)) {
    visit(Some(invitee.status.as_str()));
    for at in [invitee.invited_at, invitee.joined_at, invitee.updated_at] {
        match at {
            Some(at) => visit(Some(Rfc3339::new(at, Fraction::Micros).as_str())),
            None => visit(None),
        }
    }
    visit(invitee.display_name.as_deref());
    visit(invitee.email.as_deref());
    let mut amount = itoa::Buffer::new();
    visit(invitee.total_paid_micro.map(|v| amount.format(v)));
    visit(invitee.role.as_deref());
    visit(invitee.invited_by.as_deref());
    visit(extra_json(invitee).as_deref());
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn times_sort_as_text() {
        let a = DateTime::from_timestamp(1_700_000_000, 0).unwrap();
        let b = DateTime::from_timestamp(1_700_000_000, 500_000_000).unwrap();
        assert_eq!(format_time(a), "2023-11-14T22:13:20.000000Z");
        assert!(format_time(a) < format_time(b));
        assert_eq!(parse_time(&format_time(b)).unwrap(), b);
    }
}
