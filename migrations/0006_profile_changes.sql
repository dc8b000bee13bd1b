-- Profile changes (projector `users`, which also owns `users`): what a user asked for,
-- sealed as in the ledger, and what became of it.
CREATE TABLE profile_changes (
    id           uuid        PRIMARY KEY,
    user_id      uuid        NOT NULL,
    name         text,
    phone        text,
    status       text        NOT NULL,
    requested_at timestamptz NOT NULL,
    decided_at   timestamptz,
    reason       text,
    updated_seq  bigint      NOT NULL
);
CREATE INDEX profile_changes_by_status ON profile_changes (status, requested_at, id);
CREATE UNIQUE INDEX profile_changes_one_pending ON profile_changes (user_id) WHERE status = 'PENDING';
