//! `GET /fhir/R4/AuditEvent?patient=`: who read the patient's records, who was refused,
//! and who read in an emergency, from the access log, newest first, as AuditEvents in
//! the shape of IHE's Basic Audit Log Patterns. For the patient and administrators (the
//! disclosures rule, `domain::account::disclosures_subject`); a document is named by its
//! id, never its title.

use super::{base_url, caller::fhir_caller, outcome::Outcome, people, resources, search};
use crate::{AppState, csrf::Intent, error::Code};
use axum::{
    extract::{Query, State},
    http::HeaderMap,
    response::Response,
};
use commands::Caller;
use domain::account::{UserId, disclosures_subject};
use fhir::r4::resources::Resource;

/// A page of the patient's audit events (and whether more follow), after the rule.
pub(crate) async fn audit_events_of(
    state: &AppState,
    caller: &Caller,
    patient: UserId,
    page: search::Page,
) -> Result<(Vec<(String, Resource)>, bool), Outcome> {
    disclosures_subject(caller.viewer(), Some(patient))
        .map_err(|e| Outcome::new(Code::Forbidden, e.to_string()))?;
    let s = &state.services;
    let rows = projections::records::access_log_of_owner(
        &s.pool,
        patient,
        resources::AUDITED_ACTIONS,
        page.offset as i64,
        page.count as i64 + 1,
    )
    .await?;
    let more = rows.len() > page.count;
    let rows = &rows[..rows.len().min(page.count)];
    let actors = people(state, rows.iter().filter_map(|r| r.actor_id)).await?;
    let base = base_url(state);
    let entries = rows
        .iter()
        .map(|row| {
            let actor = row.actor_id.and_then(|a| actors.get(&a));
            let resource = resources::audit_event(row, actor).map_err(Outcome::internal)?;
            Ok((
                format!("{base}/AuditEvent/{}-{}", row.seq, row.record_id),
                resource,
            ))
        })
        .collect::<Result<Vec<_>, Outcome>>()?;
    Ok((entries, more))
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
        let (entries, more) =
            audit_events_of(&state, &caller, UserId::from_uuid(patient), page).await?;
        search::searchset(
            &base_url(&state),
            &format!("/AuditEvent?patient={patient}"),
            page,
            search::Found {
                entries,
                more,
                total: None,
            },
            state.services.clock.now(),
        )
    };
    super::outcome::answer(found.await)
}
