//! The PostgreSQL statements, with table names qualified by an optional schema.

/// Columns of `invitees`, in insert order.
const COLUMN_LIST: &str = "provider, account, id, status, invited_at, joined_at, updated_at, \
                           display_name, email, total_paid_micro, role, invited_by, extra, synced_at";

/// Rows per `INSERT` statement (14 parameters each, far below the 65,535 limit).
pub(super) const BATCH_ROWS: usize = 1000;

/// Every statement the sink runs, built once for its schema.
#[derive(Debug, Clone)]
pub(super) struct Statements {
    pub(super) create: String,
    pub(super) run_id_for_update: String,
    pub(super) advance_slice: String,
    pub(super) advance_run: String,
    pub(super) begin_run: String,
    pub(super) delete_slices: String,
    pub(super) insert_slice: String,
    pub(super) finish_run: String,
    pub(super) load_state: String,
    pub(super) load_slices: String,
    pub(super) stored: String,
    pub(super) insert_changes: String,
    invitees: String,
}

/// Quotes an identifier for PostgreSQL (`"a""b"`).
pub(super) fn quote_ident(name: &str) -> String {
    format!("\"{}\"", name.replace('"', "\"\""))
}

impl Statements {
    pub(super) fn new(schema: Option<&str>) -> Self {
        let (prefix, create_schema) = match schema {
            Some(s) => (
                format!("{}.", quote_ident(s)),
                format!("CREATE SCHEMA IF NOT EXISTS {};", quote_ident(s)),
            ),
            None => (String::new(), String::new()),
        };
        let inv = format!("{prefix}invitees");
        let state = format!("{prefix}sync_state");
        let slices = format!("{prefix}sync_slices");
        let changes = format!("{prefix}invitee_changes");
        Self {
            create: format!(
                "{create_schema}
CREATE TABLE IF NOT EXISTS {inv} (
    provider         text        NOT NULL,
    account          text        NOT NULL,
    id               text        NOT NULL,
    status           text        NOT NULL,
    invited_at       timestamptz,
    joined_at        timestamptz,
    updated_at       timestamptz,
    display_name     text,
    email            text,
    total_paid_micro bigint,
    role             text,
    invited_by       text,
    extra            jsonb,
    synced_at        timestamptz NOT NULL,
    PRIMARY KEY (provider, account, id)
);
CREATE TABLE IF NOT EXISTS {changes} (
    provider    text        NOT NULL,
    account     text        NOT NULL,
    id          text        NOT NULL,
    observed_at timestamptz NOT NULL,
    run_id      text        NOT NULL,
    field       text        NOT NULL,
    old_value   text,
    new_value   text,
    delta_micro bigint
);
CREATE INDEX IF NOT EXISTS invitee_changes_by_time ON {changes} (observed_at);
CREATE INDEX IF NOT EXISTS invitee_changes_by_key ON {changes} (provider, account, id);
CREATE TABLE IF NOT EXISTS {state} (
    provider       text        NOT NULL,
    account        text        NOT NULL,
    watermark      timestamptz,
    refreshed_at   timestamptz,
    run_id         text,
    run_mode       text,
    run_since      timestamptz,
    run_until      timestamptz,
    run_started_at timestamptz,
    run_watermark  timestamptz,
    updated_at     timestamptz NOT NULL,
    PRIMARY KEY (provider, account)
);
CREATE TABLE IF NOT EXISTS {slices} (
    provider   text        NOT NULL,
    account    text        NOT NULL,
    ordinal    integer     NOT NULL,
    slice      text        NOT NULL,
    resume     text,
    complete   boolean     NOT NULL DEFAULT false,
    head_ids   text,
    updated_at timestamptz NOT NULL,
    PRIMARY KEY (provider, account, slice)
);
ALTER TABLE {state} ADD COLUMN IF NOT EXISTS refreshed_at timestamptz;"
            ),
            run_id_for_update: format!(
                "SELECT run_id FROM {state} WHERE provider = $1 AND account = $2 FOR UPDATE"
            ),
            advance_slice: format!(
                "UPDATE {slices} SET
    resume = CASE WHEN complete THEN resume ELSE $4 END,
    complete = complete OR $5,
    head_ids = COALESCE(head_ids, $6),
    updated_at = now()
WHERE provider = $1 AND account = $2 AND slice = $3"
            ),
            advance_run: format!(
                "UPDATE {state} SET run_watermark = GREATEST(run_watermark, $3), updated_at = now()
WHERE provider = $1 AND account = $2"
            ),
            begin_run: format!(
                "INSERT INTO {state} (provider, account, run_id, run_mode, run_since, run_until,
                      run_started_at, run_watermark, updated_at)
VALUES ($1, $2, $3, $4, $5, $6, $7, $8, now())
ON CONFLICT (provider, account) DO UPDATE SET
    run_id = excluded.run_id,
    run_mode = excluded.run_mode,
    run_since = excluded.run_since,
    run_until = excluded.run_until,
    run_started_at = excluded.run_started_at,
    run_watermark = excluded.run_watermark,
    updated_at = excluded.updated_at"
            ),
            delete_slices: format!("DELETE FROM {slices} WHERE provider = $1 AND account = $2"),
            insert_slice: format!(
                "INSERT INTO {slices} (provider, account, ordinal, slice, resume, complete, head_ids, updated_at)
VALUES ($1, $2, $3, $4, $5, $6, $7, now())"
            ),
            finish_run: format!(
                "UPDATE {state} SET
    watermark = GREATEST(watermark, $3),
    refreshed_at = CASE WHEN run_mode = 'full' THEN run_started_at ELSE refreshed_at END,
    run_id = NULL, run_mode = NULL, run_since = NULL, run_until = NULL,
    run_started_at = NULL, run_watermark = NULL,
    updated_at = now()
WHERE provider = $1 AND account = $2"
            ),
            load_state: format!(
                "SELECT watermark, run_id, run_mode, run_since, run_until, run_started_at, run_watermark,
       refreshed_at
FROM {state} WHERE provider = $1 AND account = $2"
            ),
            load_slices: format!(
                "SELECT slice, resume, complete, head_ids FROM {slices}
WHERE provider = $1 AND account = $2 ORDER BY ordinal"
            ),
            stored: format!(
                "SELECT provider, account, id, status, invited_at, joined_at, updated_at,
       display_name, email, total_paid_micro, role, invited_by, extra::text
FROM {inv}
WHERE (provider, account, id) IN (SELECT * FROM unnest($1::text[], $2::text[], $3::text[]))"
            ),
            insert_changes: format!(
                "INSERT INTO {changes} (provider, account, id, observed_at, run_id, field,
                       old_value, new_value, delta_micro)
SELECT p, a, i, now(), $4, f, o, n, d
FROM unnest($1::text[], $2::text[], $3::text[], $5::text[], $6::text[], $7::text[], $8::bigint[])
     AS c(p, a, i, f, o, n, d)"
            ),
            invitees: inv,
        }
    }

    /// A multi-row upsert of `rows` records.
    pub(super) fn upsert(&self, rows: usize) -> String {
        let mut sql = format!("INSERT INTO {} ({COLUMN_LIST}) VALUES ", self.invitees);
        for r in 0..rows {
            let p = r * 14;
            if r > 0 {
                sql.push_str(", ");
            }
            sql.push('(');
            for c in 1..=14 {
                if c > 1 {
                    sql.push_str(", ");
                }
                if c == 13 {
                    sql.push_str(&format!("(${}::text)::jsonb", p + c));
                } else {
                    sql.push_str(&format!("${}", p + c));
                }
            }
            sql.push(')');
        }
        sql.push_str(
            " ON CONFLICT (provider, account, id) DO UPDATE SET
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
    synced_at = excluded.synced_at",
        );
        sql
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn identifiers_are_quoted_and_batches_numbered() {
        assert_eq!(quote_ident("a\"b"), "\"a\"\"b\"");
        let s = Statements::new(Some("t1"));
        assert!(s.create.starts_with("CREATE SCHEMA IF NOT EXISTS \"t1\";"));
        let sql = s.upsert(2);
        assert!(sql.starts_with("INSERT INTO \"t1\".invitees ("));
        assert!(sql.contains("($15, $16,"));
        assert!(sql.contains("($27::text)::jsonb, $28)"));
    }
}
