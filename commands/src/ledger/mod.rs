//! Whole-ledger operations over the format `domain::ledger` defines: verification,
//! export, the head, and signed checkpoints kept outside the database.

pub mod activity;
pub mod checkpoint;
pub mod erasure_journal;
pub mod export;
pub mod freeze;
pub mod head;
pub mod verify;

pub use checkpoint::{CheckpointStore, CheckpointStoreError, read_checkpoint};
pub use erasure_journal::{ErasureJournal, JournalEntry, JournalError, journal_entries};
pub use export::{ExportError, export_jsonl, export_line_of, export_lines_of_streams};
pub use freeze::{freeze, frozen};
pub use head::{LedgerHead, hash_of, ledger_head, seq_at, time_of};
pub use verify::{
    LedgerCheck, LedgerProblem, Verification, verify_against_checkpoints, verify_ledger,
};
