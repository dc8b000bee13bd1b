-- The appender's write (DESIGN.md §2), as one function so that a round is one round trip:
-- take the ledger lock, check that the head and each stream's version are the ones the
-- rows were hashed against, insert the rows and NOTIFY the new head. When a check fails
-- it writes nothing and returns false; the appender then reads the head under the lock
-- and hashes again. Called inside a transaction that already holds the lock, the checks
-- always pass (the lock is re-entrant within a session).
--
-- Each statement of a volatile PL/pgSQL function takes a fresh snapshot, so the reads
-- after pg_advisory_xact_lock see every commit made before the lock was granted.
CREATE FUNCTION ledger_append(
    lock_key       bigint,
    expect_seq     bigint,      -- the head the rows were hashed on: 0 and NULL when empty
    expect_hash    bytea,
    check_streams  text[],      -- every stream of the rows, with its version before them
    check_versions integer[],
    seqs           bigint[],
    ids            uuid[],
    streams        text[],
    versions       integer[],
    types          text[],
    actors         uuid[],
    recorded       timestamptz,
    payloads       text[],
    prev_hashes    bytea[],
    hashes         bytea[],
    channel        text,
    message        text
) RETURNS boolean LANGUAGE plpgsql AS $$
DECLARE
    head_seq  bigint;
    head_hash bytea;
BEGIN
    PERFORM pg_advisory_xact_lock(lock_key);
    SELECT e.seq, e.hash INTO head_seq, head_hash FROM events e ORDER BY e.seq DESC LIMIT 1;
    IF coalesce(head_seq, 0) <> expect_seq OR head_hash IS DISTINCT FROM expect_hash THEN
        RETURN false;
    END IF;
    IF EXISTS (
        SELECT 1 FROM unnest(check_streams, check_versions) AS c(name, before)
        WHERE coalesce((SELECT e.version FROM events e WHERE e.stream = c.name
                        ORDER BY e.version DESC LIMIT 1), 0) <> c.before
    ) THEN
        RETURN false;
    END IF;
    INSERT INTO events (seq, id, stream, version, type, actor, recorded_at, payload, prev_hash, hash)
    SELECT r.seq, r.id, r.stream, r.version, r.type, r.actor, recorded, r.payload::json, r.prev, r.hash
    FROM unnest(seqs, ids, streams, versions, types, actors, payloads, prev_hashes, hashes)
         AS r(seq, id, stream, version, type, actor, payload, prev, hash);
    PERFORM pg_notify(channel, message);
    RETURN true;
END;
$$;
