//! Caregiver proxies (MyChart's proxy access): a patient lets someone act for them, a
//! parent for a child, a child for a frail parent. The pure part:
//!
//! - `events`, `state`: one stream per patient (`proxies-<patient id>`) holding every
//!   grant they made. Per patient, because a read of one of their records asks "does
//!   this person hold a live grant of this patient's that covers this record": the
//!   record's owner names the stream, and one fold answers.
//! - `decide`: inviting (the grant waits for the invited person to redeem the mailed
//!   token: nothing at registration proves the mailbox), accepting, revoking.
//!
//! What a grant lets its proxy do is the access rules' to say (`record::access`): READ
//! sees and downloads; MANAGE also uploads, shares, revokes and decides referrals. A
//! proxy never erases the patient, grants further proxies, or sees their security
//! settings: those ask for the patient themself.

mod decide;
mod events;
mod state;

pub use decide::{AcceptProxy, INVITATION_MICROS, InviteProxy, ProxyError, accept, invite, revoke};
pub use events::{ProxyAccepted, ProxyEvent, ProxyInvited, ProxyRevoked, ProxyScope};
pub use state::{PROXY_CATEGORY, Proxies, ProxyGrant};
