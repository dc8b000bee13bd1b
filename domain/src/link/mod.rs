//! Share links (SMART Health Links, Epic's "Share Everywhere"): a patient lets a clinician
//! without an account read chosen records through a link and a passcode, until an expiry
//! and for at most a number of opens. The pure part:
//!
//! - `passcode`: the passcode's shape (50 bits, ten characters a person reads aloud),
//!   made from random bytes the caller supplies, and read back however it was typed.
//! - `events`, `state`: one stream per link (`share_link-<id>`): its creation, each open
//!   (a grant of 15 minutes to the one who typed the right passcode), each wrong
//!   passcode (the fifth locks it), its revocation.
//! - `decide`: creating, opening, revoking, and whether a grant reads a record now.
//!
//! Whether a read through a link may go ahead is the access rules' to say
//! (`record::access::read_through_link`); this says whether the grant stands.

mod decide;
mod events;
mod link_id;
mod passcode;
mod state;

pub use decide::{
    CreateLink, GRANT_MICROS, LinkDenial, LinkError, LinkOutcome, LinkedRecord,
    MAX_LIFETIME_MICROS, MAX_LINK_RECORDS, MAX_WRONG_PASSCODES, OpenLink, create, open, revoke,
};
pub use events::{
    ShareLinkCreated, ShareLinkEvent, ShareLinkOpened, ShareLinkPasscodeRefused, ShareLinkRevoked,
};
pub use link_id::{LINK_CATEGORY, LinkId};
pub use passcode::{InvalidPasscode, PASSCODE_BYTES, Passcode};
pub use state::{LinkGrant, ShareLink};
