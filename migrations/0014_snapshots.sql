-- The command kernel's snapshots: a stream's state folded up to a version, so a long
-- stream is folded from here rather than from its first event. Derived data: deleting
-- any row (or all) only makes the next command read more of the ledger. The state is
-- kept as the exact text the MAC covers (jsonb would reorder it).
CREATE TABLE snapshots (
    stream   text PRIMARY KEY,
    version  integer NOT NULL CHECK (version > 0),
    last_seq bigint  NOT NULL CHECK (last_seq > 0),
    format   integer NOT NULL,
    state    text    NOT NULL,
    -- HMAC-SHA256 (a key derived from the master key) over stream, version, last_seq and
    -- state: a row this code did not write is ignored.
    mac      bytea   NOT NULL CHECK (octet_length(mac) = 32)
);
