//! The SQLite tables: `invitees` (the data), `invitee_changes` (its history) and
//! `sync_state` / `sync_slices` (progress).

/// Layout version kept in `PRAGMA user_version`.
pub(super) const VERSION: i64 = 2;

/// What turns a database of each older version into the next one, in order
/// (`MIGRATIONS[0]` upgrades version 1 to 2). Version 0 is a new file, which [`CREATE`]
/// makes at the current version.
pub(super) const MIGRATIONS: [&str; 1] = ["ALTER TABLE sync_state ADD COLUMN refreshed_at TEXT;"];

/// Creates every table if missing.
pub(super) const CREATE: &str = "
CREATE TABLE IF NOT EXISTS invitees (
    provider         TEXT    NOT NULL,
    account          TEXT    NOT NULL,
    id               TEXT    NOT NULL,
    status           TEXT    NOT NULL,
    invited_at       TEXT,
    joined_at        TEXT,
    updated_at       TEXT,
    display_name     TEXT,
    email            TEXT,
    total_paid_micro INTEGER,
    role             TEXT,
    invited_by       TEXT,
    extra            TEXT,
    synced_at        TEXT    NOT NULL,
    PRIMARY KEY (provider, account, id)
);
CREATE TABLE IF NOT EXISTS invitee_changes (
    provider    TEXT    NOT NULL,
    account     TEXT    NOT NULL,
    id          TEXT    NOT NULL,
    observed_at TEXT    NOT NULL,
    run_id      TEXT    NOT NULL,
    field       TEXT    NOT NULL,
    old_value   TEXT,
    new_value   TEXT,
    delta_micro INTEGER
);
CREATE INDEX IF NOT EXISTS invitee_changes_by_time ON invitee_changes (observed_at);
CREATE INDEX IF NOT EXISTS invitee_changes_by_key ON invitee_changes (provider, account, id);
CREATE TABLE IF NOT EXISTS sync_state (
    provider       TEXT NOT NULL,
    account        TEXT NOT NULL,
    watermark      TEXT,
    refreshed_at   TEXT,
    run_id         TEXT,
    run_mode       TEXT,
    run_since      TEXT,
    run_until      TEXT,
    run_started_at TEXT,
    run_watermark  TEXT,
    updated_at     TEXT NOT NULL,
    PRIMARY KEY (provider, account)
);
CREATE TABLE IF NOT EXISTS sync_slices (
    provider   TEXT    NOT NULL,
    account    TEXT    NOT NULL,
    ordinal    INTEGER NOT NULL,
    slice      TEXT    NOT NULL,
    resume     TEXT,
    complete   INTEGER NOT NULL DEFAULT 0,
    head_ids   TEXT,
    updated_at TEXT    NOT NULL,
    PRIMARY KEY (provider, account, slice)
);
";

/// Inserts one record or updates every column of the stored one.
pub(super) const UPSERT: &str = "
INSERT INTO invitees (provider, account, id, status, invited_at, joined_at, updated_at,
                      display_name, email, total_paid_micro, role, invited_by, extra, synced_at)
VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14)
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
    synced_at = excluded.synced_at";

/// The tracked columns of a stored record, as text.
pub(super) const STORED: &str = "
SELECT status, invited_at, joined_at, updated_at, display_name, email,
       CAST(total_paid_micro AS TEXT), role, invited_by, extra
FROM invitees WHERE provider = ?1 AND account = ?2 AND id = ?3";

/// Records one change.
pub(super) const INSERT_CHANGE: &str = "
INSERT INTO invitee_changes (provider, account, id, observed_at, run_id, field,
                             old_value, new_value, delta_micro)
VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)";

/// The run in progress of a source.
pub(super) const RUN_ID: &str =
    "SELECT run_id FROM sync_state WHERE provider = ?1 AND account = ?2";

/// A slice's progress after a page; a complete slice stays complete.
pub(super) const ADVANCE_SLICE: &str = "
UPDATE sync_slices SET
    resume = CASE WHEN complete = 1 THEN resume ELSE ?4 END,
    complete = MAX(complete, ?5),
    head_ids = COALESCE(head_ids, ?6),
    updated_at = ?7
WHERE provider = ?1 AND account = ?2 AND slice = ?3";

/// The run's watermark becomes the newer of the stored one and ?3 (text order is time
/// order for the fixed-width format).
pub(super) const ADVANCE_RUN: &str = "
UPDATE sync_state SET
    run_watermark = CASE WHEN ?3 IS NOT NULL AND (run_watermark IS NULL OR run_watermark < ?3)
                         THEN ?3 ELSE run_watermark END,
    updated_at = ?4
WHERE provider = ?1 AND account = ?2";

/// Starts a run, keeping the watermark.
pub(super) const BEGIN_RUN: &str = "
INSERT INTO sync_state (provider, account, run_id, run_mode, run_since, run_until,
                        run_started_at, run_watermark, updated_at)
VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)
ON CONFLICT (provider, account) DO UPDATE SET
    run_id = excluded.run_id,
    run_mode = excluded.run_mode,
    run_since = excluded.run_since,
    run_until = excluded.run_until,
    run_started_at = excluded.run_started_at,
    run_watermark = excluded.run_watermark,
    updated_at = excluded.updated_at";

/// Forgets a source's slices.
pub(super) const DELETE_SLICES: &str =
    "DELETE FROM sync_slices WHERE provider = ?1 AND account = ?2";

/// Stores one planned slice.
pub(super) const INSERT_SLICE: &str = "
INSERT INTO sync_slices (provider, account, ordinal, slice, resume, complete, head_ids, updated_at)
VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)";

/// Ends a run: moves the watermark forward, records a full run's start as the refresh
/// time, and clears the run.
pub(super) const FINISH_RUN: &str = "
UPDATE sync_state SET
    watermark = CASE WHEN ?3 IS NOT NULL AND (watermark IS NULL OR watermark < ?3)
                     THEN ?3 ELSE watermark END,
    refreshed_at = CASE WHEN run_mode = 'full' THEN run_started_at ELSE refreshed_at END,
    run_id = NULL, run_mode = NULL, run_since = NULL, run_until = NULL,
    run_started_at = NULL, run_watermark = NULL,
    updated_at = ?4
WHERE provider = ?1 AND account = ?2";

/// A source's state row.
pub(super) const LOAD_STATE: &str = "
SELECT watermark, run_id, run_mode, run_since, run_until, run_started_at, run_watermark,
       refreshed_at
FROM sync_state WHERE provider = ?1 AND account = ?2";

/// A source's slices in plan order.
pub(super) const LOAD_SLICES: &str = "
SELECT slice, resume, complete, head_ids FROM sync_slices
WHERE provider = ?1 AND account = ?2 ORDER BY ordinal";
