//! Backups (issue 27), work in progress: `medchain backup --out DIR` takes a base backup
//! of the database (`pg_basebackup`, tar format, written by this process) and then
//! archives the WAL continuously (`pg_receivewal --synchronous` on a replication slot,
//! each segment flushed as it arrives), so a restore reaches the last acknowledged
//! event; `medchain restore --from DIR --data-dir D` makes an embedded cluster in `D`
//! from the base backup and replays the archived WAL to its end.
//!
//! Not yet here (see the note): the blob store's manifest and blobs, the epoch
//! keys, the signed head, the manifest of hashes a tampered backup is refused by, the
//! verification against the signed head, the erasure journal, and the read-only start.

pub mod database;
