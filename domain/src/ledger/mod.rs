//! The public ledger format (DESIGN.md §3): what an auditor recomputes with their own tools.
//!
//! `entry` builds the canonical bytes of one event and hashes them; `payload` makes a
//! payload I-JSON and canonical; `chain` folds stored rows into a verdict; `checkpoint`
//! is the signed anchor kept outside the database; `signed_report` binds an answer from
//! the ledger to its head under the same key.

pub mod chain;
pub mod checkpoint;
pub mod cosignature;
pub mod entry;
pub mod export_manifest;
pub mod hash;
pub mod merkle;
pub mod payload;
pub mod receipt;
pub mod row;
pub mod signed_report;

pub use chain::{ChainBreak, ChainVerifier, VerifiedChain};
pub use checkpoint::{Checkpoint, CheckpointError, SignedCheckpoint};
pub use entry::Entry;
pub use hash::Hash;
pub use payload::{CanonicalPayload, PayloadError, canonical_json};
pub use row::Row;
pub use signed_report::{
    ReportError, VerifiedReport, sign_document, sign_report, verify_document, verify_report,
};
