//! Settings resolved from flags and the environment (one list in the README).

use std::path::PathBuf;

/// Where things live; every path has a default under the data directory.
#[derive(Debug, Clone)]
pub struct Paths {
    pub data_dir: PathBuf,
    pub checkpoint_dir: PathBuf,
    pub ledger_key_file: PathBuf,
}

impl Paths {
    pub fn resolve(
        data_dir: PathBuf,
        checkpoint_dir: Option<PathBuf>,
        ledger_key_file: Option<PathBuf>,
    ) -> Self {
        Self {
            checkpoint_dir: checkpoint_dir.unwrap_or_else(|| data_dir.join("checkpoints")),
            ledger_key_file: ledger_key_file.unwrap_or_else(|| data_dir.join("ledger.key")),
            data_dir,
        }
    }
}
