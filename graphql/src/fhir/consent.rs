//! `GET /fhir/R4/Consent?patient=`: what the patient has let others do, each with its
//! period and state: shares of their records (a doctor reads a record), proxy grants
//! (someone acts for them, READ or MANAGE), share links (whoever holds the link and its
//! passcode reads chosen records). For the patient and their proxies
//! (`domain::account::sees_consents`).

use super::{base_url, caller::fhir_caller, outcome::Outcome, people, resources, search};
use crate::{AppState, csrf::Intent, error::Code, record_access::facts_about};
use axum::{
    extract::{Query, State},
    http::HeaderMap,
    response::Response,
};
use commands::Caller;
use domain::Timestamp;
use domain::account::{UserId, sees_consents};
use fhir::r4::{codes::ConsentStateCodes, resources::Resource};
use resources::Permit;

/// Every consent of the patient's the caller may see, newest first, with `fullUrl`s.
pub(crate) async fn consents_of(
    state: &AppState,
    caller: &Caller,
    patient: UserId,
) -> Result<Vec<(String, Resource)>, Outcome> {
    let s = &state.services;
    let circle = facts_about(s, caller, patient).await?.circle(s).await?;
    if !sees_consents(caller.viewer(), patient, circle) {
        return Err(Outcome::new(
            Code::Forbidden,
            "a patient's consents are theirs and their proxies' to see",
        ));
    }
    let now = s.clock.now();
    let shares = projections::records::shares_of_owner(&s.pool, patient).await?;
    let grants: Vec<_> = projections::proxies::involving(&s.pool, patient)
        .await?
        .into_iter()
        .filter(|g| g.patient() == patient)
        .collect();
    let links = projections::links::of_owner(&s.pool, patient).await?;
    let named = shares
        .iter()
        .map(|sh| sh.doctor.as_uuid())
        .chain(grants.iter().filter_map(|g| g.proxy_id));
    let persons = people(state, named).await?;
    let base = base_url(state);
    let ts = Timestamp::from_datetime;
    let state_of = |live: bool, ended: bool| {
        if live {
            ConsentStateCodes::Active
        } else if ended {
            ConsentStateCodes::Inactive
        } else {
            ConsentStateCodes::Proposed
        }
    };
    // (granted_at, id, resource), sorted newest first at the end.
    let mut all: Vec<(Timestamp, String, Resource)> = Vec::new();
    for share in &shares {
        let live = share.share().is_live(now);
        let ends_at = share.revoked_at.or(share.expires_at);
        let permit = Permit {
            id: share.id.as_uuid().to_string(),
            patient: patient.as_uuid(),
            state: state_of(live, true),
            granted_at: share.granted_at,
            ends_at,
            actor: persons.get(&share.doctor.as_uuid()),
            actions: &["access"],
            records: &[share.record.as_uuid()],
            kind: "Share of a record with a doctor",
        };
        let resource = resources::consent(&permit).map_err(Outcome::internal)?;
        all.push((share.granted_at, permit.id, resource));
    }
    for grant in &grants {
        let live = grant.active(now);
        let ended = grant.revoked_at.is_some() || grant.expires_at.is_some_and(|at| ts(at) <= now);
        let manage = grant.scope == "MANAGE";
        let permit = Permit {
            id: grant.id.to_string(),
            patient: patient.as_uuid(),
            state: state_of(live, ended),
            granted_at: ts(grant.granted_at),
            ends_at: grant.revoked_at.or(grant.expires_at).map(ts),
            actor: grant.proxy_id.and_then(|p| persons.get(&p)),
            actions: if manage {
                &["access", "correct", "disclose"]
            } else {
                &["access"]
            },
            records: grant.records.as_deref().unwrap_or(&[]),
            kind: if manage {
                "Proxy (MANAGE): acts for the patient"
            } else {
                "Proxy (READ): reads for the patient"
            },
        };
        let resource = resources::consent(&permit).map_err(Outcome::internal)?;
        all.push((ts(grant.granted_at), permit.id, resource));
    }
    for link in &links {
        let live = link.active(now);
        let ends_at = link
            .revoked_at
            .or(link.locked_at)
            .unwrap_or(link.expires_at);
        let permit = Permit {
            id: link.id.to_string(),
            patient: patient.as_uuid(),
            state: state_of(live, true),
            granted_at: ts(link.created_at),
            ends_at: Some(ts(ends_at)),
            actor: None,
            actions: &["access"],
            records: &link.records,
            kind: "Share link with a passcode",
        };
        let resource = resources::consent(&permit).map_err(Outcome::internal)?;
        all.push((ts(link.created_at), permit.id, resource));
    }
    all.sort_by(|a, b| (b.0, &b.1).cmp(&(a.0, &a.1)));
    Ok(all
        .into_iter()
        .map(|(_, id, resource)| (format!("{base}/Consent/{id}"), resource))
        .collect())
}

pub async fn search(
    State(state): State<AppState>,
    headers: HeaderMap,
    Query(params): Query<search::SearchParams>,
) -> Response {
    let found = async {
        let caller = fhir_caller(&state, &headers, Intent::Read).await?;
        let page = params.page()?;
        let patient = params.patient()?;
        let all = consents_of(&state, &caller, UserId::from_uuid(patient)).await?;
        let (entries, more, total) = search::paged(all, page);
        search::searchset(
            &base_url(&state),
            &format!("/Consent?patient={patient}"),
            page,
            search::Found {
                entries,
                more,
                total: Some(total),
            },
            state.services.clock.now(),
        )
    };
    super::outcome::answer(found.await)
}
