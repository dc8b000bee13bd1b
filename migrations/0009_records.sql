-- Data keys (DESIGN.md §4): one random key per record, wrapped by its owner's subject
-- key, kept here outside the ledger. Destroying it (record erasure) or the owner's
-- subject key (person erasure) leaves the file and the sealed title, description and
-- file name unreadable for good. Rows are kept as tombstones, like subject_keys.
CREATE TABLE record_keys (
    record_id    uuid        PRIMARY KEY,
    owner_id     uuid        NOT NULL,
    -- nonce (12) ‖ encrypted key (32) ‖ tag (16); NULL once destroyed.
    wrapped      bytea       NULL CHECK (octet_length(wrapped) = 60),
    created_at   timestamptz NOT NULL DEFAULT now(),
    destroyed_at timestamptz NULL,
    CHECK ((wrapped IS NULL) <> (destroyed_at IS NULL))
);
CREATE INDEX record_keys_by_owner ON record_keys (owner_id);

-- The records view (projector `records`): one row per record, its sealed fields as in
-- the ledger (opened with the data key when read).
CREATE TABLE records (
    id           uuid        PRIMARY KEY,
    owner_id     uuid        NOT NULL,
    status       text        NOT NULL,
    title        text        NOT NULL,
    description  text,
    file_name    text        NOT NULL,
    content_type text        NOT NULL,
    size         bigint      NOT NULL,
    stored_size  bigint      NOT NULL,
    sha256       text        NOT NULL,
    uploaded_at  timestamptz NOT NULL,
    uploaded_seq bigint      NOT NULL,
    erased_at    timestamptz,
    updated_seq  bigint      NOT NULL
);
CREATE INDEX records_by_owner ON records (owner_id, uploaded_at DESC, id);

-- Every share ever granted (projector `records`); live ones have neither end.
CREATE TABLE shares (
    id          uuid        PRIMARY KEY,
    record_id   uuid        NOT NULL,
    doctor_id   uuid        NOT NULL,
    granted_at  timestamptz NOT NULL,
    granted_seq bigint      NOT NULL,
    expires_at  timestamptz,
    revoked_at  timestamptz,
    expired_at  timestamptz,
    updated_seq bigint      NOT NULL
);
CREATE INDEX shares_by_record ON shares (record_id, granted_at, id);
CREATE INDEX shares_by_doctor ON shares (doctor_id, granted_at DESC, id);
CREATE INDEX shares_due ON shares (expires_at)
    WHERE revoked_at IS NULL AND expired_at IS NULL AND expires_at IS NOT NULL;

-- The access log (projector `records`): one row per ledger event about a record, keyed
-- by its seq, so a replay writes the same rows.
CREATE TABLE access_log (
    seq       bigint      PRIMARY KEY,
    record_id uuid        NOT NULL,
    owner_id  uuid        NOT NULL,
    actor_id  uuid,
    action    text        NOT NULL,
    at        timestamptz NOT NULL,
    detail    text
);
CREATE INDEX access_log_by_record ON access_log (record_id, seq DESC);
CREATE INDEX access_log_by_owner ON access_log (owner_id, seq DESC);
