-- Operational account state kept beside the ledger, never in it (DESIGN.md §4).
--
-- email_index: the blind index (HMAC-SHA256 of the normalised address under a key derived
-- from the master key) to find a user by e-mail. Outside the ledger so that erasure can
-- delete it: the address can register again and no keyed hash of it stays behind. The
-- primary key makes registration race-free: the second writer of an address conflicts.
CREATE TABLE email_index (
    hmac       bytea       PRIMARY KEY CHECK (octet_length(hmac) = 32),
    user_id    uuid        NOT NULL UNIQUE,
    created_at timestamptz NOT NULL
);

-- sessions: only the SHA-256 of each token is stored. last_seen_at moves as the session is
-- used (at most once a minute), which is why this is not a projection: the ledger records
-- the login, the logout and each revocation, not every request.
CREATE TABLE sessions (
    id           uuid        PRIMARY KEY,
    user_id      uuid        NOT NULL,
    -- A user's role never changes, so the caller is known from this row alone.
    role         text        NOT NULL,
    token_hash   bytea       NOT NULL UNIQUE CHECK (octet_length(token_hash) = 32),
    created_at   timestamptz NOT NULL,
    last_seen_at timestamptz NOT NULL,
    expires_at   timestamptz NOT NULL,
    revoked_at   timestamptz,
    user_agent   text
);
CREATE INDEX sessions_by_user ON sessions (user_id, created_at);
