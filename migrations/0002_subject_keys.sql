-- Subject keys (DESIGN.md §4): one random key per person, kept here, outside the
-- ledger, wrapped (AES-256-GCM) under a key derived from the master key. Destroying it
-- erases the person (crypto-shredding): their sealed fields and files become unreadable
-- while the ledger, which hashed only ciphertext, still verifies.
-- Rows are kept: a destroyed key leaves a tombstone, so a subject cannot be given a new
-- key after erasure.
CREATE TABLE subject_keys (
    subject_id   uuid        PRIMARY KEY,
    -- nonce (12) ‖ encrypted key (32) ‖ tag (16); NULL once destroyed.
    wrapped      bytea       NULL CHECK (octet_length(wrapped) = 60),
    created_at   timestamptz NOT NULL DEFAULT now(),
    destroyed_at timestamptz NULL,
    -- Live (wrapped, not destroyed) or destroyed (no key left), never both or neither.
    CHECK ((wrapped IS NULL) <> (destroyed_at IS NULL))
);
