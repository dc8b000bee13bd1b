//! Whole-ledger operations over the format `domain::ledger` defines: verification,
//! export, the head, and signed checkpoints kept outside the database.

pub mod checkpoint;
pub mod export;
pub mod head;
pub mod verify;

pub use checkpoint::{CheckpointStoreError, newest_checkpoint, write_checkpoint};
pub use export::export_jsonl;
pub use head::{LedgerHead, ledger_head};
pub use verify::{Verification, verify_ledger};
