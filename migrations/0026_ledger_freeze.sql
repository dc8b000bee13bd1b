-- A ledger restored short of the newest head that was signed (and that witnesses may
-- hold) is frozen: appending on would fork the log they cosigned. `medchain restore`
-- writes the reason here and creates the trigger below; while the row stands, the
-- trigger refuses every insert into events, whichever path tries (server, command line,
-- a forgotten one), with SQLSTATE MC001, which the appender reports as "the ledger is
-- read-only".
CREATE TABLE ledger_freeze (
    only_row  boolean     PRIMARY KEY DEFAULT true CHECK (only_row),
    reason    text        NOT NULL,
    frozen_at timestamptz NOT NULL DEFAULT now()
);

CREATE FUNCTION events_refused_while_frozen() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    why text;
BEGIN
    SELECT reason INTO why FROM ledger_freeze;
    IF FOUND THEN
        RAISE EXCEPTION 'the ledger is read-only: %', why USING ERRCODE = 'MC001';
    END IF;
    RETURN NULL;
END;
$$;

-- The trigger itself (`events_frozen`, once per statement, BEFORE INSERT ON events) is
-- created by the freeze (`commands::ledger::freeze`), not here: a ledger that is not
-- frozen pays nothing for it on its appends. Deleting the row unfreezes whether or not
-- the trigger stays.
