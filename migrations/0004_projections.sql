-- The read side's bookkeeping (DESIGN.md §5): one row per projector. A projector moves
-- last_seq in the same transaction as the rows it writes, so a batch is applied exactly
-- once. failed_seq/failure are set when it stops on an event, and cleared when it gets
-- past it (after a fix and a restart); /health names every projector with failed_seq set.
CREATE TABLE projection_checkpoints (
    name       text        PRIMARY KEY,
    last_seq   bigint      NOT NULL DEFAULT 0 CHECK (last_seq >= 0),
    failed_seq bigint,
    failure    text,
    updated_at timestamptz NOT NULL DEFAULT now()
);

-- The users view (projector `users`). Personal fields stay sealed here as in the ledger;
-- they are opened with the person's subject key when read, so erasing the key erases
-- them here too, and a rebuild gives the same rows.
CREATE TABLE users (
    id          uuid        PRIMARY KEY,
    role        text        NOT NULL,
    status      text        NOT NULL,
    name        text        NOT NULL,
    email       text        NOT NULL,
    phone       text,
    created_at  timestamptz NOT NULL,
    updated_seq bigint      NOT NULL
);
CREATE INDEX users_by_role_status ON users (role, status, created_at, id);
