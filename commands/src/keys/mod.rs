//! Key handling, in one place: loading, creating and using the keys MedChain holds.

pub mod ledger_key;
mod secret_file;

pub use ledger_key::LedgerKey;
pub use secret_file::KeyFileError;
