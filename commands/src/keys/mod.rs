//! Key handling, in one place: loading, creating, deriving and using the keys MedChain
//! holds (DESIGN.md §4 and §11). Every other path calls this module; none touches key
//! bytes.
//!
//! - `master_key`: the 32-byte master key in its 0600 file, and the HKDF-SHA256 sub-keys
//!   derived from it, one per purpose.
//! - `key_ring`: `KeyRing`, what callers hold: the blind index of an e-mail address, and
//!   subject and data keys created, loaded and erased in `subject_keys`/`record_keys`.
//! - `wrap`: the one AES-256-GCM key wrap, bound to its place by associated data.
//! - `epoch_key`, `epoch_store`, `epochs`: key epochs. Every stored key is wrapped by
//!   an epoch's key, kept wrapped by the master key in the epoch store (a directory),
//!   never in the database; `rewrap` moves keys to a newer epoch for a rotation.
//! - `hsm`, `hsm_move`: the master key in a hardware security module (PKCS#11), and
//!   moving a key file's deployment there.
//! - `subject_key`: one random key per person; erasing it erases the person.
//! - `sealing`: sealing and opening a field under a subject key, bound to its stream and
//!   field name, in `domain::Sealed`'s text form.
//! - `data_key`: one random key per record, wrapped by its owner's subject key; it
//!   encrypts the file and seals the record's fields.
//! - `blind_index`: HMAC-SHA256 of a normalised e-mail address.
//! - `rate_key`: HMAC-SHA256 naming what a rate limit counts (an address, an account).
//! - `ledger_key`: the ledger's Ed25519 key, which signs checkpoints.
//! - `secret_file`: key files created 0600 before any byte is written.

pub mod blind_index;
pub mod data_key;
pub mod epoch_key;
pub mod epoch_store;
mod epochs;
pub mod hsm;
pub mod hsm_move;
pub mod key_ring;
pub mod ledger_key;
pub mod master_key;
mod rate_key;
pub mod rewrap;
pub mod sealing;
mod secret_file;
pub mod snapshot_mac;
pub mod subject_key;
mod wrap;

pub use blind_index::BlindIndex;
pub use data_key::{DataKey, DataKeyState};
pub use epoch_store::EpochStore;
pub use epochs::ROTATION_LOCK;
pub use key_ring::{DataKeyRows, KeyError, KeyRing, WrappedKey};
pub use ledger_key::LedgerKey;
pub use master_key::MasterKey;
pub use rewrap::RewrapCursor;
pub use sealing::SealError;
pub use secret_file::KeyFileError;
pub use subject_key::{SubjectKey, SubjectKeyState};
