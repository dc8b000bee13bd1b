//! The write side of MedChain: the event store and everything that must happen before an
//! event is on the ledger.
//!
//! - `kernel`: the one way a command runs: load a stream (from a kept state or a
//!   snapshot), fold it, ask the pure decision, append at the version read, decide again
//!   on a lost race. `CommandError` (this layer's one error) and `Caller` (who asks) sit
//!   beside it at the top.
//! - `event_store`: append to a stream at an expected version through the per-process
//!   group-commit appender; read a stream; read everything from a seq.
//! - `ledger`: verification (streaming), export, checkpoints, all over the format that
//!   `domain::ledger` defines.
//! - `accounts`: registering, logging in, sessions, password changes.
//! - `records`: medical records: streaming encrypted upload, reading content (recorded
//!   first), sharing, expiry, erasure.
//! - `keys`: every key MedChain holds, in one place: the master key and what it derives
//!   (the e-mail blind index, the epoch keys' wrap), key epochs and their store, subject
//!   and data keys and sealed fields, the ledger's Ed25519 signing key.
//! - `key_epochs`: the rotation (one process at a time, resumable), where the epochs
//!   stand, and erasure certificates (DESIGN.md §11).
//! - `legal_holds`: placing and lifting holds, and the check every erasure makes.
//! - `links`: share links: creating, opening with the passcode, tokens, revoking.
//! - `proxies`: caregiver proxies: the invitation mailed, redeemed, revoked.
//! - `blobs`: the blob store (object_store), ciphertext only.
//! - `mail`: SMTP or an outbox of `.eml` files, through lettre.
//! - `rate_limit`: limits that hold across processes (failed sign-ins, resets,
//!   registrations), counted in PostgreSQL.
//! - `password_hasher`: Argon2id at OWASP parameters, off the async executor.
//! - `db`: connecting and the embedded migrations.
//! - `clock`: the injected clock; nothing here reads the system time directly.
#![forbid(unsafe_code)]

pub mod accounts;
pub mod blobs;
mod caller;
pub mod clock;
pub mod db;
mod error;
pub mod event_store;
pub mod kernel;
pub mod key_epochs;
pub mod keys;
pub mod ledger;
pub mod legal_holds;
pub mod links;
pub mod mail;
pub mod password_hasher;
pub mod proxies;
pub mod rate_limit;
pub mod records;
pub mod shredding;

pub use caller::Caller;
pub use clock::{Clock, ManualClock, SystemClock};
pub use error::CommandError;
pub use event_store::{
    AppendError, Appended, EventStore, ExpectedVersion, NewEvent, RecordedEvent,
};
pub use kernel::{Decision, Executed, Kernel, Loaded};
