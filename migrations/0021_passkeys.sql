-- Passkeys (DESIGN.md §10). A WebAuthn ceremony between its two steps: its state as
-- `webauthn-rs` keeps it (the challenge; nothing secret), for the person who began it
-- (NULL: an anonymous sign-in), single-use and for five minutes, so a ceremony begun in
-- one server process finishes in any other.
CREATE TABLE webauthn_challenges (
    id         uuid        PRIMARY KEY,
    user_id    uuid,
    kind       text        NOT NULL CHECK (kind IN ('register', 'login')),
    state      text        NOT NULL,
    expires_at timestamptz NOT NULL
);
CREATE INDEX webauthn_challenges_by_expiry ON webauthn_challenges (expires_at);

-- The users view counts a person's passkeys beside `second_factor` (TOTP): either is a
-- second factor for the MFA policy.
ALTER TABLE users ADD COLUMN passkeys integer NOT NULL DEFAULT 0;
