-- The transparency log's tree (DESIGN.md §9), kept by the `merkle` projector: the hash
-- of every complete, aligned subtree of the RFC 6962 tree over the events' hashes in seq
-- order. (level, idx) covers leaves idx·2^level .. (idx+1)·2^level − 1, leaf i being
-- event seq i + 1. Any root or proof reads O(log n) rows; derived, rebuilt from the
-- ledger like any view.
CREATE TABLE merkle_nodes (
    level smallint NOT NULL,
    idx   bigint   NOT NULL,
    hash  bytea    NOT NULL,
    PRIMARY KEY (level, idx)
);
