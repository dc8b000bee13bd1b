//! A record's state, folded from its stream: who owns it, what was stored, whether it is
//! erased, and every share ever granted (a share is never forgotten, so the rules can
//! tell "revoked" from "never shared").

use super::events::{RecordEvent, RecordUploaded};
use super::{RecordId, ReferralId, ShareId};
use crate::Timestamp;
use crate::account::UserId;
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Record {
    id: RecordId,
    stored: Option<RecordUploaded>,
    erased: bool,
    shares: Vec<Share>,
    /// Shares whose coming expiry was noticed (`ShareExpiring`).
    noticed: Vec<ShareId>,
    /// Every referral asked, with its decision.
    #[serde(default)]
    referrals: Vec<Referral>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Referral {
    pub id: ReferralId,
    pub from: UserId,
    pub to: UserId,
    pub status: ReferralStatus,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum ReferralStatus {
    Pending,
    Approved,
    Declined,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Share {
    pub id: ShareId,
    pub doctor: UserId,
    pub expires_at: Option<Timestamp>,
    pub ended: Option<ShareEnd>,
}

/// How a share stopped, as the ledger says it did.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum ShareEnd {
    Revoked,
    Expired,
}

impl Share {
    /// Lets its doctor read at `now`: not revoked, and its time (if any) not passed.
    /// Expiry counts from the moment itself, whether or not `ShareExpired` was recorded.
    pub fn is_live(&self, now: Timestamp) -> bool {
        self.lapse(now).is_none()
    }

    /// Why the share no longer lets its doctor read at `now`, if it does not.
    pub fn lapse(&self, now: Timestamp) -> Option<ShareEnd> {
        match self.ended {
            Some(end) => Some(end),
            None if self.expires_at.is_some_and(|at| at <= now) => Some(ShareEnd::Expired),
            None => None,
        }
    }
}

impl crate::Aggregate for Record {
    type Id = RecordId;
    type Event = RecordEvent;

    fn new(id: RecordId) -> Self {
        Record::new(id)
    }

    fn stream(id: RecordId) -> crate::StreamName {
        id.stream()
    }

    fn apply(&mut self, event: &RecordEvent) {
        Record::apply(self, event)
    }

    /// A record keeps every share it ever had.
    fn weight(&self) -> usize {
        1 + self.shares.len() + self.referrals.len()
    }
}

impl Record {
    pub fn new(id: RecordId) -> Self {
        Self {
            id,
            stored: None,
            erased: false,
            shares: Vec::new(),
            noticed: Vec::new(),
            referrals: Vec::new(),
        }
    }

    pub fn id(&self) -> RecordId {
        self.id
    }

    /// What was uploaded; `None` for a stream that does not exist.
    pub fn stored(&self) -> Option<&RecordUploaded> {
        self.stored.as_ref()
    }

    pub fn owner(&self) -> Option<UserId> {
        self.stored.as_ref().map(|s| s.owner)
    }

    /// Who stored it: the doctor who added it, or else its owner.
    pub fn author(&self) -> Option<UserId> {
        self.stored.as_ref().map(|s| s.author.unwrap_or(s.owner))
    }

    pub fn referrals(&self) -> &[Referral] {
        &self.referrals
    }

    pub fn referral(&self, id: ReferralId) -> Option<&Referral> {
        self.referrals.iter().find(|r| r.id == id)
    }

    pub fn is_erased(&self) -> bool {
        self.erased
    }

    pub fn shares(&self) -> &[Share] {
        &self.shares
    }

    /// Whether `ShareExpiring` was recorded for the share.
    pub fn expiry_noticed(&self, id: ShareId) -> bool {
        self.noticed.contains(&id)
    }

    pub fn share(&self, id: ShareId) -> Option<&Share> {
        self.shares.iter().find(|s| s.id == id)
    }

    pub fn apply(&mut self, event: &RecordEvent) {
        match event {
            RecordEvent::RecordUploaded(e) => self.stored = Some(e.clone()),
            RecordEvent::RecordShared(e) => self.shares.push(Share {
                id: e.share,
                doctor: e.doctor,
                expires_at: e.expires_at,
                ended: None,
            }),
            RecordEvent::ReferralRequested(e) => self.referrals.push(Referral {
                id: e.referral,
                from: e.from,
                to: e.to,
                status: ReferralStatus::Pending,
            }),
            RecordEvent::ReferralDecided(e) => {
                if let Some(r) = self.referrals.iter_mut().find(|r| r.id == e.referral) {
                    r.status = if e.approved {
                        ReferralStatus::Approved
                    } else {
                        ReferralStatus::Declined
                    };
                }
            }
            RecordEvent::ShareRevoked(e) => self.end(e.share, ShareEnd::Revoked),
            RecordEvent::ShareExpired(e) => self.end(e.share, ShareEnd::Expired),
            RecordEvent::ShareExpiring(e) => self.noticed.push(e.share),
            RecordEvent::RecordErased(_) => {
                self.erased = true;
                for share in &mut self.shares {
                    share.ended.get_or_insert(ShareEnd::Revoked);
                }
            }
            RecordEvent::RecordAccessed(_) | RecordEvent::RecordAccessDenied(_) => {}
        }
    }

    fn end(&mut self, share: ShareId, how: ShareEnd) {
        if let Some(s) = self.shares.iter_mut().find(|s| s.id == share) {
            s.ended.get_or_insert(how);
        }
    }
}
