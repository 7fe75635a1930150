-- What `affiliate worker` records per slice (who holds it, until when, how it went) and
-- the per-credential lease that keeps one credential's requests in one worker at a time.
ALTER TABLE sync_slices
    ADD COLUMN lease       text,
    ADD COLUMN worker      text,
    ADD COLUMN leased_at   timestamptz,
    ADD COLUMN lease_until timestamptz,
    ADD COLUMN attempts    integer NOT NULL DEFAULT 0,
    ADD COLUMN last_error  text,
    ADD COLUMN dead        boolean NOT NULL DEFAULT false,
    ADD COLUMN rows        bigint  NOT NULL DEFAULT 0;
CREATE TABLE credential_leases (
    provider    text        NOT NULL,
    account     text        NOT NULL,
    worker      text        NOT NULL,
    lease_until timestamptz NOT NULL,
    PRIMARY KEY (provider, account)
);
