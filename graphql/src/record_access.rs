//! The caller's access to a patient's records now, for every route that shows one
//! (GraphQL, FHIR): the facts the access rules take (`domain::record::access`,
//! `domain::account::access`), gathered here once per owner: the caller's live proxy
//! grants from the owner's proxies stream (so a revocation counts at once) and a doctor's
//! open emergency access to the owner. The rules decide; this only asks the ledger and
//! the views for the facts.

use crate::context::Services;
use commands::{Caller, CommandError};
use domain::Timestamp;
use domain::account::{CareCircle, Role, UserId};
use domain::emergency::EmergencyId;
use domain::proxy::Proxies;
use domain::record::{Access, RecordFacts, access};
use projections::records::RecordView;

/// What the rules need about the caller and one owner's records.
pub struct CallerFacts {
    caller: Caller,
    owner: UserId,
    /// The owner's proxy grants, when the caller is neither the owner nor an admin.
    proxies: Option<Proxies>,
    emergency: Option<EmergencyId>,
    pub now: Timestamp,
}

pub async fn facts_about(
    s: &Services,
    caller: &Caller,
    owner: UserId,
) -> Result<CallerFacts, CommandError> {
    let now = s.clock.now();
    let mut facts = CallerFacts {
        caller: *caller,
        owner,
        proxies: None,
        emergency: None,
        now,
    };
    if caller.user == owner || caller.role == Role::Admin {
        return Ok(facts);
    }
    let proxies: Proxies = s.records.kernel_state(owner).await?;
    let is_proxy = proxies.standing_of(caller.user, None, now).is_some();
    facts.proxies = Some(proxies);
    if caller.role == Role::Doctor && !is_proxy {
        facts.emergency = projections::emergency::open_for(&s.pool, caller.user, owner, now)
            .await
            .map_err(CommandError::internal)?;
    }
    Ok(facts)
}

impl CallerFacts {
    /// The access rules' answer for one of the owner's records.
    pub fn access(&self, view: &RecordView) -> Access {
        debug_assert_eq!(view.owner, self.owner);
        let proxy = self
            .proxies
            .as_ref()
            .and_then(|p| p.standing_of(self.caller.user, Some(view.id), self.now));
        let emergency = if proxy.is_none() {
            self.emergency
        } else {
            None
        };
        let facts = RecordFacts {
            proxy,
            ..view.facts(emergency)
        };
        access(self.caller.viewer(), facts, self.now)
    }

    /// The caller's live proxy grant of the owner's covering all they may reach, if any.
    pub fn proxy_standing(&self) -> Option<(uuid::Uuid, domain::proxy::ProxyScope)> {
        self.proxies
            .as_ref()
            .and_then(|p| p.standing_of(self.caller.user, None, self.now))
    }

    /// Where the caller stands in the owner's care (`shared`: a doctor holds a live share
    /// of one of the owner's records, from the records view).
    pub async fn circle(&self, s: &Services) -> Result<CareCircle, CommandError> {
        let proxy = self
            .proxies
            .as_ref()
            .is_some_and(|p| p.standing_of(self.caller.user, None, self.now).is_some());
        let shared = self.caller.role == Role::Doctor
            && projections::records::share_a_record(
                &s.pool,
                self.owner,
                self.caller.user,
                self.now,
            )
            .await
            .map_err(CommandError::internal)?;
        Ok(CareCircle {
            proxy,
            shared,
            emergency: self.emergency.is_some(),
        })
    }
}

pub async fn record_access(
    s: &Services,
    caller: &Caller,
    view: &RecordView,
) -> Result<Access, CommandError> {
    Ok(facts_about(s, caller, view.owner).await?.access(view))
}
