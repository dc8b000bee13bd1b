//! A share link folded from its stream: what it names and until when, how often it was
//! opened and refused, whether it is locked or revoked, and its grants (each open's 15
//! minutes).

use super::LinkId;
use super::events::{ShareLinkCreated, ShareLinkEvent};
use crate::account::UserId;
use crate::record::RecordId;
use crate::{StreamName, Timestamp};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ShareLink {
    id: LinkId,
    created: Option<ShareLinkCreated>,
    opens: u32,
    wrong: u32,
    locked: bool,
    revoked: bool,
    grants: Vec<LinkGrant>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct LinkGrant {
    pub id: Uuid,
    pub expires_at: Timestamp,
}

impl crate::Aggregate for ShareLink {
    type Id = LinkId;
    type Event = ShareLinkEvent;

    fn new(id: LinkId) -> Self {
        Self {
            id,
            created: None,
            opens: 0,
            wrong: 0,
            locked: false,
            revoked: false,
            grants: Vec::new(),
        }
    }

    fn stream(id: LinkId) -> StreamName {
        StreamName::new(super::LINK_CATEGORY, id.as_uuid())
            .expect("\"share_link\" is a valid stream category")
    }

    fn apply(&mut self, event: &ShareLinkEvent) {
        ShareLink::apply(self, event)
    }

    fn weight(&self) -> usize {
        1 + self.grants.len() / 16
    }
}

impl ShareLink {
    pub fn id(&self) -> LinkId {
        self.id
    }

    pub fn created(&self) -> Option<&ShareLinkCreated> {
        self.created.as_ref()
    }

    pub fn owner(&self) -> Option<UserId> {
        self.created.as_ref().map(|c| c.owner)
    }

    pub fn names(&self, record: RecordId) -> bool {
        self.created
            .as_ref()
            .is_some_and(|c| c.records.contains(&record))
    }

    pub fn opens(&self) -> u32 {
        self.opens
    }

    pub fn wrong_passcodes(&self) -> u32 {
        self.wrong
    }

    pub fn is_locked(&self) -> bool {
        self.locked
    }

    pub fn is_revoked(&self) -> bool {
        self.revoked
    }

    /// Revoked, past its time, or opened as often as allowed: nothing more opens it.
    pub fn is_spent(&self, now: Timestamp) -> bool {
        let Some(c) = &self.created else {
            return true;
        };
        self.revoked || now >= c.expires_at || c.max_opens.is_some_and(|m| self.opens >= m)
    }

    /// Whether someone could read `record` through the link at `at`: the link names it
    /// and stands (not revoked, not past its time), and either a grant of it was live
    /// then or it still opened (not locked, not used up) for whoever had the passcode.
    pub fn could_read(&self, record: RecordId, at: Timestamp) -> bool {
        let Some(c) = &self.created else {
            return false;
        };
        if !self.names(record) || self.revoked || at >= c.expires_at {
            return false;
        }
        let opens = !self.locked && c.max_opens.is_none_or(|m| self.opens < m);
        opens || self.grants.iter().any(|g| at < g.expires_at)
    }

    /// The grant made by an open, while it lasts.
    pub fn live_grant(&self, grant: Uuid, now: Timestamp) -> Option<&LinkGrant> {
        self.grants
            .iter()
            .find(|g| g.id == grant && now < g.expires_at)
    }

    pub fn apply(&mut self, event: &ShareLinkEvent) {
        match event {
            ShareLinkEvent::ShareLinkCreated(e) => self.created = Some(e.clone()),
            ShareLinkEvent::ShareLinkOpened(e) => {
                self.opens += 1;
                self.grants.push(LinkGrant {
                    id: e.grant,
                    expires_at: e.grant_expires_at,
                });
            }
            ShareLinkEvent::ShareLinkPasscodeRefused(e) => {
                self.wrong += 1;
                self.locked |= e.locked;
            }
            ShareLinkEvent::ShareLinkRevoked(_) => self.revoked = true,
        }
    }
}
