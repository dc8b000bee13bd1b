-- The command kernel's snapshots: a stream's state folded up to a version, so a long
-- stream is folded from here rather than from its first event. Derived data: deleting
-- any row (or all) only makes the next command read more of the ledger.
CREATE TABLE snapshots (
    stream   text PRIMARY KEY,
    version  integer NOT NULL CHECK (version > 0),
    last_seq bigint  NOT NULL CHECK (last_seq > 0),
    format   integer NOT NULL,
    state    jsonb   NOT NULL
);
