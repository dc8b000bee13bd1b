-- Strong sign-in (DESIGN.md §10). A session records how it was made, and when it last
-- proved its person (its sign-in, or a later `reauthenticate`): changing a factor needs
-- that within the last five minutes.
ALTER TABLE sessions
    ADD COLUMN method text NOT NULL DEFAULT 'password',
    ADD COLUMN authenticated_at timestamptz;

-- A TOTP enrolment between its two steps: the new secret, sealed under the person's
-- subject key, until the person types a code from it (or it expires). One at a time per
-- person; not on the ledger, since nothing is enabled until the code matches.
CREATE TABLE totp_enrolments (
    user_id    uuid        PRIMARY KEY,
    secret     text        NOT NULL,
    expires_at timestamptz NOT NULL
);
