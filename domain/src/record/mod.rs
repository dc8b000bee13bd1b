//! Medical records: the `record` aggregate (one stream per uploaded file), the values
//! made at the edge (title, description, file name, content kind), and the access rules
//! of DESIGN.md §6, which every path asks.
//!
//! - `access`: who may see, read, share and erase; the only place that says so.
//! - `events`, `state`: what the ledger records and the fold over it.
//! - `upload` (a patient's own, or a doctor adding to a patient's file), `share`,
//!   `referral`, `read`, `erase`: the decisions.
//! - `readers`: who could read a record at a moment (for replay).

pub mod access;
pub mod content_kind;
pub mod description;
pub mod erase;
pub mod events;
pub mod file_name;
pub mod read;
pub mod readers;
pub mod record_id;
pub mod referral;
pub mod referral_id;
pub mod share;
pub mod share_id;
pub mod state;
pub mod title;
pub mod upload;

#[cfg(test)]
mod given;

pub use access::{
    Access, CareFacts, Denial, Grant, RecordFacts, Viewer, access, may_add_for, may_begin_upload,
    may_upload,
};
pub use content_kind::{ContentKind, SNIFF_BYTES, UnknownKind, sniff};
pub use description::{Description, InvalidDescription};
pub use erase::{EraseRecordError, erase_record};
pub use events::{
    DenialReason, RecordAccessDenied, RecordAccessed, RecordErased, RecordEvent, RecordShared,
    RecordUploaded, ReferralDecided, ReferralRequested, ShareExpired, ShareExpiring, ShareRevoked,
};
pub use file_name::{FileName, InvalidFileName, safe_basename};
pub use read::{ReadAction, ReadDecision, ReaderFacts, read_content, read_via_link};
pub use record_id::{RECORD_CATEGORY, RecordId};
pub use referral::{DecideReferral, Refer, ReferralError, decide_referral, refer};
pub use referral_id::ReferralId;
pub use share::{
    EXPIRY_NOTICE_MICROS, ShareError, ShareRecord, expire, notice_expiry, revoke, share,
};
pub use share_id::ShareId;
pub use state::{Record, Referral, ReferralStatus, Share, ShareEnd};
pub use title::{InvalidTitle, Title};
pub use upload::{UploadError, UploadRecord, upload};
