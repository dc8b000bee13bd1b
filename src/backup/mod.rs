//! Backups (issue 27): `medchain backup --out DIR [--follow]` and `medchain restore
//! --from DIR` (`cli`). The database part (`database`) is PostgreSQL's own: a tar base
//! backup (`pg_basebackup`) and the WAL after it archived continuously
//! (`pg_receivewal --synchronous` on a replication slot, each segment flushed as it
//! arrives), so a restore reaches the last event acknowledged before the backup
//! stopped; every file of a backup is listed with its SHA-256 (`manifest`), and a
//! backup that differs from its manifest is refused, naming the file.
//!
//! The blobs and epoch keys go with it from a directory or S3 (`files`); a restore
//! (`restore`) checks it all, re-applies erasures, and freezes a ledger that falls short
//! of a head that was signed or witnessed (`reach`).

pub mod cli;
pub mod database;
pub mod files;
pub mod manifest;
pub mod reach;
pub mod restore;
