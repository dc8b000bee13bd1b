-- The ledger (DESIGN.md §3): append-only, hash-linked, the only source of truth.
-- seq is assigned by the appender from the head read under the ledger lock, never by a
-- Postgres sequence (a sequence leaves gaps and commits out of order).
CREATE TABLE events (
    seq         bigint      PRIMARY KEY CHECK (seq >= 1),
    id          uuid        NOT NULL UNIQUE,
    stream      text        NOT NULL,
    version     integer     NOT NULL CHECK (version >= 1),
    type        text        NOT NULL,
    actor       uuid,
    recorded_at timestamptz NOT NULL,
    -- json, not jsonb: the stored text is the canonical text that was hashed, and json
    -- keeps strings jsonb refuses (\u0000).
    payload     json        NOT NULL CHECK (json_typeof(payload) = 'object'),
    prev_hash   bytea       NOT NULL UNIQUE CHECK (octet_length(prev_hash) = 32),
    hash        bytea       NOT NULL UNIQUE CHECK (octet_length(hash) = 32),
    UNIQUE (stream, version)
);

CREATE INDEX events_type_seq ON events (type, seq);

CREATE FUNCTION events_are_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'the ledger is append-only: % on events is refused', TG_OP
        USING ERRCODE = 'insufficient_privilege';
END;
$$;

CREATE TRIGGER events_append_only_rows
    BEFORE UPDATE OR DELETE ON events
    FOR EACH ROW EXECUTE FUNCTION events_are_append_only();

CREATE TRIGGER events_append_only_truncate
    BEFORE TRUNCATE ON events
    FOR EACH STATEMENT EXECUTE FUNCTION events_are_append_only();
