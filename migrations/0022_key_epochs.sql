-- Key epochs (DESIGN.md §11). Every wrapped key row names the epoch whose key wrapped it;
-- the epoch keys themselves are never in the database (so never in its WAL, its backups
-- or a replica): they live in the epoch store, wrapped by the master key. This table
-- holds only what is public about them: numbers and times.
CREATE TABLE key_epochs (
    number      integer     PRIMARY KEY CHECK (number > 0),
    started_at  timestamptz NOT NULL,
    -- From here on nothing new is wrapped under it: the rotation's last pass. A writer's
    -- insert takes FOR SHARE on its epoch's row and checks this, so none slips past.
    closed_at   timestamptz,
    -- Its key destroyed in the store (overwritten, synced, unlinked); KeyEpochRetired
    -- is on the ledger at `retired_seq`.
    retired_at  timestamptz,
    retired_seq bigint
);

-- `epoch` NULL: wrapped before key epochs, by the key derived from the master key (the
-- first start re-wraps such rows into epoch 1). `created_epoch`: the epoch current when
-- the key was made (0 before key epochs), so an erasure knows every epoch that held it.
ALTER TABLE subject_keys
    ADD COLUMN epoch integer REFERENCES key_epochs (number),
    ADD COLUMN created_epoch integer NOT NULL DEFAULT 0;
ALTER TABLE record_keys
    ADD COLUMN epoch integer REFERENCES key_epochs (number),
    ADD COLUMN created_epoch integer NOT NULL DEFAULT 0;
CREATE INDEX subject_keys_by_epoch ON subject_keys (epoch);
CREATE INDEX record_keys_by_epoch ON record_keys (epoch);

-- Erasures: what is left of an erased key is this row, no key material. It keeps a
-- subject from being given a new key (a new key would bring an erased person back) and
-- says which epochs ever wrapped the key: the erasure is complete once all are retired.
CREATE TABLE key_erasures (
    kind          text        NOT NULL CHECK (kind IN ('user', 'record')),
    subject_id    uuid        NOT NULL,
    -- The person whose key it was (for a record: its owner).
    owner_id      uuid        NOT NULL,
    first_epoch   integer     NOT NULL,
    last_epoch    integer     NOT NULL,
    erased_at     timestamptz NOT NULL,
    -- ErasureCompleted on the ledger, once every epoch from first to last is retired.
    completed_seq bigint,
    PRIMARY KEY (kind, subject_id)
);
CREATE INDEX key_erasures_by_owner ON key_erasures (owner_id);
CREATE INDEX key_erasures_pending ON key_erasures (last_epoch) WHERE completed_seq IS NULL;

-- Erasures made before key epochs: their rows leave for key_erasures, with epoch 0 (the
-- master key's own wrap, which no rotation retires).
INSERT INTO key_erasures (kind, subject_id, owner_id, first_epoch, last_epoch, erased_at)
    SELECT 'user', subject_id, subject_id, 0, 0, destroyed_at
    FROM subject_keys WHERE wrapped IS NULL;
INSERT INTO key_erasures (kind, subject_id, owner_id, first_epoch, last_epoch, erased_at)
    SELECT 'record', record_id, owner_id, 0, 0, destroyed_at
    FROM record_keys WHERE wrapped IS NULL;
DELETE FROM subject_keys WHERE wrapped IS NULL;
DELETE FROM record_keys WHERE wrapped IS NULL;

-- A row now always holds a key: erasure deletes it.
ALTER TABLE subject_keys DROP CONSTRAINT subject_keys_check;
ALTER TABLE subject_keys DROP COLUMN destroyed_at;
ALTER TABLE subject_keys ALTER COLUMN wrapped SET NOT NULL;
ALTER TABLE record_keys DROP CONSTRAINT record_keys_check;
ALTER TABLE record_keys DROP COLUMN destroyed_at;
ALTER TABLE record_keys ALTER COLUMN wrapped SET NOT NULL;
-- A data key is the owner's wrap (60 bytes) wrapped again by the epoch key (88 bytes);
-- before key epochs, the owner's wrap alone.
ALTER TABLE record_keys DROP CONSTRAINT record_keys_wrapped_check;
ALTER TABLE record_keys ADD CONSTRAINT record_keys_wrapped_length
    CHECK (octet_length(wrapped) = CASE WHEN epoch IS NULL THEN 60 ELSE 88 END);
