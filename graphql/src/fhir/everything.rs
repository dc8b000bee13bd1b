//! `GET /fhir/R4/Patient/{id}/$everything`: everything of the patient's the caller may
//! see, as one searchset Bundle that pages like the searches: the Patient, then the
//! DocumentReferences (with a Provenance for each record a doctor added), the Consents
//! and the newest AuditEvents, each part only where its own rule allows it. An
//! administrator gets the Patient and the audit events, never a document.

use super::{
    audit::audit_events_of, base_url, caller::fhir_caller, consent::consents_of, documents,
    path_id, patient::patient_for, search,
};
use crate::{AppState, csrf::Intent};
use axum::{
    extract::{Path, Query, State},
    http::HeaderMap,
    response::Response,
};
use domain::account::{Role, UserId, disclosures_subject};

/// The newest audit events `$everything` carries; the AuditEvent search pages them all.
const AUDIT_EVENTS: usize = 1000;

pub async fn everything(
    State(state): State<AppState>,
    headers: HeaderMap,
    Path(id): Path<String>,
    Query(params): Query<search::SearchParams>,
) -> Response {
    let found = async {
        let caller = fhir_caller(&state, &headers, Intent::Read).await?;
        let page = params.page()?;
        let id = path_id(&id, "patient")?;
        let patient = UserId::from_uuid(id);
        let mut all = vec![patient_for(&state, &caller, id).await?];
        if caller.role != Role::Admin {
            let seen = documents::visible_of(&state, &caller, patient).await?;
            all.extend(documents::entries(&state, &seen, true).await?);
        }
        match consents_of(&state, &caller, patient).await {
            Ok(consents) => all.extend(consents),
            Err(o) if o.status == axum::http::StatusCode::FORBIDDEN => {}
            Err(o) => return Err(o),
        }
        if disclosures_subject(caller.viewer(), Some(patient)).is_ok() {
            let newest = search::Page {
                offset: 0,
                count: AUDIT_EVENTS,
            };
            all.extend(audit_events_of(&state, &caller, patient, newest).await?.0);
        }
        let (entries, more, total) = search::paged(all, page);
        search::searchset(
            &base_url(&state),
            &format!("/Patient/{id}/$everything"),
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
