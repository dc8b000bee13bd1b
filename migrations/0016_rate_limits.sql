-- Rate limits that hold across server processes (commands::rate_limit): one row per
-- counted attempt, named by a keyed hash of what is counted (a client address, an
-- account's address), never the thing itself. Rows older than the longest window are
-- pruned; a lost table only forgets recent attempts.
CREATE TABLE rate_limit_hits (
    bucket  text        NOT NULL,
    subject bytea       NOT NULL,
    at      timestamptz NOT NULL
);
CREATE INDEX rate_limit_hits_by_subject ON rate_limit_hits (bucket, subject, at);
CREATE INDEX rate_limit_hits_by_time ON rate_limit_hits (at);
