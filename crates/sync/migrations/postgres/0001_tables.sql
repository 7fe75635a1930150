-- The sink's tables. IF NOT EXISTS: databases written before migrations were recorded
-- (the same tables, created at connect) are adopted as version 1.
CREATE TABLE IF NOT EXISTS invitees (
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
CREATE TABLE IF NOT EXISTS invitee_changes (
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
CREATE INDEX IF NOT EXISTS invitee_changes_by_time ON invitee_changes (observed_at);
CREATE INDEX IF NOT EXISTS invitee_changes_by_key ON invitee_changes (provider, account, id);
CREATE TABLE IF NOT EXISTS sync_state (
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
CREATE TABLE IF NOT EXISTS sync_slices (
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
ALTER TABLE sync_state ADD COLUMN IF NOT EXISTS refreshed_at timestamptz;
