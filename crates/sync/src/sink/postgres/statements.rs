//! The statements the PostgreSQL sink runs. Table names are unqualified: every connection's
//! `search_path` starts with the sink's schema (see [`super::connect`]).

use crate::sink::COLUMNS;

/// Quotes an identifier for PostgreSQL (`"a""b"`).
pub(super) fn quote_ident(name: &str) -> String {
    format!("\"{}\"", name.replace('"', "\"\""))
}

/// A per-connection staging table that a page is copied into; emptied at every commit.
pub(super) const CREATE_STAGE: &str = "CREATE TEMP TABLE IF NOT EXISTS invitees_stage (
    provider text, account text, id text, status text, invited_at timestamptz,
    joined_at timestamptz, updated_at timestamptz, display_name text, email text,
    total_paid_micro bigint, role text, invited_by text, extra jsonb, synced_at timestamptz
) ON COMMIT DELETE ROWS";

/// `COPY ... FROM STDIN` in text format into the staging table.
pub(super) fn copy_into_stage() -> String {
    format!("COPY invitees_stage ({}) FROM STDIN", COLUMNS.join(", "))
}

/// Moves the staged rows into `invitees`, replacing stored versions; `filtered`: only the
/// keys given as three arrays (`$1` providers, `$2` accounts, `$3` ids).
pub(super) fn upsert_from_stage(filtered: bool) -> String {
    let columns = COLUMNS.join(", ");
    let filter = if filtered {
        "\nWHERE (provider, account, id) IN \
         (SELECT * FROM unnest($1::text[], $2::text[], $3::text[]))"
    } else {
        ""
    };
    format!(
        "INSERT INTO invitees ({columns}) SELECT {columns} FROM invitees_stage{filter}
ON CONFLICT (provider, account, id) DO UPDATE SET
    status = excluded.status,
    invited_at = excluded.invited_at,
    joined_at = excluded.joined_at,
    updated_at = excluded.updated_at,
    display_name = excluded.display_name,
    email = excluded.email,
    total_paid_micro = excluded.total_paid_micro,
    role = excluded.role,
    invited_by = excluded.invited_by,
    extra = excluded.extra,
    synced_at = excluded.synced_at"
    )
}

pub(super) const RUN_ID_FOR_UPDATE: &str =
    "SELECT run_id FROM sync_state WHERE provider = $1 AND account = $2 FOR UPDATE";

pub(super) const ADVANCE_SLICE: &str = "UPDATE sync_slices SET
    resume = CASE WHEN complete THEN resume ELSE $4 END,
    complete = complete OR $5,
    head_ids = COALESCE(head_ids, $6),
    rows = rows + CASE WHEN complete THEN 0 ELSE $7 END,
    updated_at = now()
WHERE provider = $1 AND account = $2 AND slice = $3";

pub(super) const ADVANCE_RUN: &str = "UPDATE sync_state
SET run_watermark = GREATEST(run_watermark, $3), updated_at = now()
WHERE provider = $1 AND account = $2";

pub(super) const BEGIN_RUN: &str = "INSERT INTO sync_state (provider, account, run_id, run_mode,
    run_since, run_until, run_started_at, run_watermark, updated_at)
VALUES ($1, $2, $3, $4, $5, $6, $7, $8, now())
ON CONFLICT (provider, account) DO UPDATE SET
    run_id = excluded.run_id,
    run_mode = excluded.run_mode,
    run_since = excluded.run_since,
    run_until = excluded.run_until,
    run_started_at = excluded.run_started_at,
    run_watermark = excluded.run_watermark,
    updated_at = excluded.updated_at";

pub(super) const DELETE_SLICES: &str =
    "DELETE FROM sync_slices WHERE provider = $1 AND account = $2";

/// Every slice of a run in one statement (arrays of ordinals, keys, cursors, ...).
pub(super) const INSERT_SLICES: &str = "INSERT INTO sync_slices
    (provider, account, ordinal, slice, resume, complete, head_ids, updated_at)
SELECT $1, $2, o, s, r, c, h, now()
FROM unnest($3::integer[], $4::text[], $5::text[], $6::boolean[], $7::text[]) AS t(o, s, r, c, h)";

pub(super) const FINISH_RUN: &str = "UPDATE sync_state SET
    watermark = GREATEST(watermark, $3),
    refreshed_at = CASE WHEN run_mode = 'full' THEN run_started_at ELSE refreshed_at END,
    run_id = NULL, run_mode = NULL, run_since = NULL, run_until = NULL,
    run_started_at = NULL, run_watermark = NULL,
    updated_at = now()
WHERE provider = $1 AND account = $2";

pub(super) const LOAD_STATE: &str = "SELECT watermark, run_id, run_mode, run_since, run_until,
    run_started_at, run_watermark, refreshed_at
FROM sync_state WHERE provider = $1 AND account = $2";

pub(super) const LOAD_SLICES: &str = "SELECT slice, resume, complete, head_ids FROM sync_slices
WHERE provider = $1 AND account = $2 ORDER BY ordinal";

pub(super) const STORED: &str = "SELECT provider, account, id, status, invited_at, joined_at,
    updated_at, display_name, email, total_paid_micro, role, invited_by, extra::text
FROM invitees
WHERE (provider, account, id) IN (SELECT * FROM unnest($1::text[], $2::text[], $3::text[]))";

pub(super) const INSERT_CHANGES: &str = "INSERT INTO invitee_changes (provider, account, id,
    observed_at, run_id, field, old_value, new_value, delta_micro)
SELECT p, a, i, now(), $4, f, o, n, d
FROM unnest($1::text[], $2::text[], $3::text[], $5::text[], $6::text[], $7::text[],
            $8::bigint[]) AS c(p, a, i, f, o, n, d)";

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn identifiers_are_quoted() {
        assert_eq!(quote_ident("a\"b"), "\"a\"\"b\"");
        assert!(copy_into_stage().starts_with("COPY invitees_stage (provider, account, id,"));
    }
}
