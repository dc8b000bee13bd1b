-- Legal holds (projector `legal_holds`): one row per hold ever placed, keyed by the
-- hold's id; `subject` is `user-<id>` or `record-<id>`. The reason stays sealed on the
-- ledger; administrators see who placed a hold and when, the person that one stands.
CREATE TABLE legal_holds (
    id          uuid        PRIMARY KEY,
    subject     text        NOT NULL,
    placed_by   uuid        NOT NULL,
    placed_at   timestamptz NOT NULL,
    placed_seq  bigint      NOT NULL,
    lifted_by   uuid,
    lifted_at   timestamptz
);
CREATE INDEX legal_holds_standing ON legal_holds (subject) WHERE lifted_at IS NULL;
CREATE INDEX legal_holds_by_time ON legal_holds (placed_at DESC, id);
