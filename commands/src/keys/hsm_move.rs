//! Moving a deployment's master key from its file into an HSM (`medchain keys
//! move-to-hsm`): every epoch key in the store is opened with the file's key and sealed
//! again by the module, each file replaced whole; then the file's bytes are sealed by the
//! module as the derivation root, so the blind index and every other derived key stay
//! what they were and everyone can still sign in. Safe to run again after a crash: an
//! epoch key the module already opens is left as it is.

use super::{
    EpochStore, MasterKey,
    epoch_key::{EpochWrapKey, ResealError},
    hsm::Hsm,
    master_key::HsmRootError,
};
use std::sync::Arc;

#[derive(Debug, thiserror::Error)]
pub enum MoveError {
    #[error("the master key is in an HSM already")]
    AlreadyInHsm,
    #[error("epoch {epoch}: {source}")]
    Epoch { epoch: u32, source: ResealError },
    #[error("the epoch store: {0}")]
    Store(#[source] std::io::Error),
    #[error(transparent)]
    Root(#[from] HsmRootError),
}

/// Returns how many epoch keys were sealed anew. Blocking (files, the module).
pub fn move_to_hsm(
    file_key: &MasterKey,
    hsm: &Arc<Hsm>,
    store: &EpochStore,
) -> Result<usize, MoveError> {
    if file_key.hsm().is_some() {
        return Err(MoveError::AlreadyInHsm);
    }
    let old = EpochWrapKey::derived(file_key);
    let new = EpochWrapKey::Hsm(hsm.clone());
    let mut moved = 0;
    for epoch in store.list().map_err(MoveError::Store)? {
        let Some(stored) = store.read(epoch).map_err(MoveError::Store)? else {
            continue;
        };
        if new.open(epoch, &stored).is_ok() {
            continue;
        }
        let sealed = new
            .reseal(&old, epoch, &stored)
            .map_err(|source| MoveError::Epoch { epoch, source })?;
        store.rewrite(epoch, &sealed).map_err(MoveError::Store)?;
        moved += 1;
    }
    file_key.seal_root_into(hsm, store)?;
    Ok(moved)
}
