//! Erasure that holds on disk (DESIGN.md §11), the pure part: what an erasure names
//! (`ErasureSubject`), the key epochs' one event (`KeyEpochRetired`), the completion of
//! an erasure once every epoch that wrapped its keys is retired (`ErasureCompleted`), the
//! certificate's arithmetic (`completeness`), and legal holds with the rule that no
//! erasure goes ahead under one (`may_erase`). The keys themselves, their store and the
//! rotation are the command layer's.

mod completeness;
mod completion;
mod key_epoch;
mod legal_hold;
mod subject;

pub use completeness::{Completeness, EpochState, completeness};
pub use completion::{CompleteError, ErasureCompleted, ErasureCompletion, ErasureEvent, complete};
pub use key_epoch::{EpochNumber, KeyEpoch, KeyEpochEvent, KeyEpochRetired, retire};
pub use legal_hold::{
    HoldError, LegalHold, LegalHoldEvent, LegalHoldLifted, LegalHoldPlaced, UnderLegalHold, lift,
    may_erase, place,
};
pub use subject::{ErasureSubject, InvalidErasureSubject};
