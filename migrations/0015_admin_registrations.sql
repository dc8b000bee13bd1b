-- Erasure refuses to remove the last active administrator, and counts them from the
-- ledger (each administrator's own stream, folded): this finds their streams without
-- reading every registration.
CREATE INDEX events_admin_registrations ON events (seq)
    WHERE type = 'UserRegistered' AND payload->>'role' = 'ADMIN';
