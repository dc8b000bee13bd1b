-- Replay "as of a time" (DESIGN.md §5) finds the last event recorded by then. Times never
-- decrease along seq (the appender takes the later of its clock and the head's time), so
-- an index on the time gives that event in one lookup at any depth of the ledger.
CREATE INDEX events_recorded_at ON events (recorded_at, seq);
