//! A patient's proxy grants, folded from their stream.

use super::events::{ProxyEvent, ProxyScope};
use crate::account::UserId;
use crate::record::RecordId;
use crate::{StreamName, Timestamp};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

pub const PROXY_CATEGORY: &str = "proxies";

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Proxies {
    patient: UserId,
    grants: Vec<ProxyGrant>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ProxyGrant {
    pub id: Uuid,
    pub scope: ProxyScope,
    pub records: Option<Vec<RecordId>>,
    pub expires_at: Option<Timestamp>,
    pub invitation_expires_at: Timestamp,
    pub proxy: Option<UserId>,
    pub revoked: bool,
}

impl ProxyGrant {
    /// Lets its proxy act at `now`: accepted, not revoked, not past its expiry.
    pub fn is_live(&self, now: Timestamp) -> bool {
        self.proxy.is_some() && !self.revoked && self.expires_at.is_none_or(|at| now < at)
    }

    /// Covers `record`: all records, or it is among the chosen ones.
    pub fn covers(&self, record: RecordId) -> bool {
        self.records.as_ref().is_none_or(|r| r.contains(&record))
    }
}

impl crate::Aggregate for Proxies {
    type Id = UserId;
    type Event = ProxyEvent;

    fn new(patient: UserId) -> Self {
        Self {
            patient,
            grants: Vec::new(),
        }
    }

    fn stream(patient: UserId) -> StreamName {
        StreamName::new(PROXY_CATEGORY, patient.as_uuid()).expect("\"proxies\" is a valid category")
    }

    fn apply(&mut self, event: &ProxyEvent) {
        Proxies::apply(self, event)
    }

    fn weight(&self) -> usize {
        1 + self.grants.len() / 8
    }
}

impl Proxies {
    pub fn patient(&self) -> UserId {
        self.patient
    }

    pub fn grants(&self) -> &[ProxyGrant] {
        &self.grants
    }

    pub fn grant(&self, id: Uuid) -> Option<&ProxyGrant> {
        self.grants.iter().find(|g| g.id == id)
    }

    /// The live grant of `proxy` covering `record` (any live grant when `None`), with
    /// MANAGE before READ where both stand.
    pub fn standing_of(
        &self,
        proxy: UserId,
        record: Option<RecordId>,
        now: Timestamp,
    ) -> Option<(Uuid, ProxyScope)> {
        self.grants
            .iter()
            .filter(|g| g.proxy == Some(proxy) && g.is_live(now))
            .filter(|g| record.is_none_or(|r| g.covers(r)))
            .max_by_key(|g| g.scope == ProxyScope::Manage)
            .map(|g| (g.id, g.scope))
    }

    pub fn apply(&mut self, event: &ProxyEvent) {
        match event {
            ProxyEvent::ProxyInvited(e) => self.grants.push(ProxyGrant {
                id: e.grant,
                scope: e.scope,
                records: e.records.clone(),
                expires_at: e.expires_at,
                invitation_expires_at: e.invitation_expires_at,
                proxy: None,
                revoked: false,
            }),
            ProxyEvent::ProxyAccepted(e) => {
                if let Some(g) = self.grants.iter_mut().find(|g| g.id == e.grant) {
                    g.proxy = Some(e.proxy);
                }
            }
            ProxyEvent::ProxyRevoked(e) => {
                if let Some(g) = self.grants.iter_mut().find(|g| g.id == e.grant) {
                    g.revoked = true;
                }
            }
        }
    }
}
