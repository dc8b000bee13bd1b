-- Read tokens for apps (DESIGN.md §12): operational state beside the ledger, like
-- `sessions`. The ledger has each token's id, sealed name and expiry; the secret is kept
-- here only as its SHA-256, so a copy of the database opens nothing.
CREATE TABLE read_tokens (
    id           uuid        PRIMARY KEY,
    user_id      uuid        NOT NULL,
    -- A user's role never changes, so the caller is known from this row alone.
    role         text        NOT NULL,
    token_hash   bytea       NOT NULL UNIQUE CHECK (octet_length(token_hash) = 32),
    created_at   timestamptz NOT NULL,
    expires_at   timestamptz NOT NULL,
    last_used_at timestamptz,
    revoked_at   timestamptz
);
CREATE INDEX read_tokens_by_user ON read_tokens (user_id);
