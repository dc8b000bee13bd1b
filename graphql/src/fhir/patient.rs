//! `GET /fhir/R4/Patient/{id}`: a patient, for whoever the rules about people let see
//! them (`domain::account::sees_patient`); their e-mail address and phone only where
//! `sees_contact_details` allows. Anyone else is told there is no such patient.

use super::{base_url, caller::fhir_caller, outcome::Outcome, path_id, resources};
use crate::{AppState, csrf::Intent, record_access::facts_about};
use axum::{
    extract::{Path, State},
    http::HeaderMap,
    response::Response,
};
use commands::Caller;
use domain::account::{Role, UserId, sees_contact_details, sees_patient};
use fhir::r4::resources::Resource;
use uuid::Uuid;

pub async fn read(
    State(state): State<AppState>,
    headers: HeaderMap,
    Path(id): Path<String>,
) -> Response {
    let found = async {
        let caller = fhir_caller(&state, &headers, Intent::Read).await?;
        let id = path_id(&id, "patient")?;
        patient_for(&state, &caller, id).await
    };
    super::outcome::answer(found.await.map(|(_, resource)| resource))
}

/// The patient as `caller` may see them, with its `fullUrl`.
pub(crate) async fn patient_for(
    state: &AppState,
    caller: &Caller,
    id: Uuid,
) -> Result<(String, Resource), Outcome> {
    let s = &state.services;
    let patient = UserId::from_uuid(id);
    let view = projections::users::find(&s.pool, &s.keys, patient)
        .await?
        .filter(|v| v.role == Role::Patient)
        .ok_or_else(|| Outcome::not_found("patient"))?;
    let circle = facts_about(s, caller, patient).await?.circle(s).await?;
    if !sees_patient(caller.viewer(), patient, circle) {
        return Err(Outcome::not_found("patient"));
    }
    let contact = sees_contact_details(caller.viewer(), patient);
    let resource = resources::patient(&view, contact).map_err(Outcome::internal)?;
    Ok((format!("{}/Patient/{id}", base_url(state)), resource))
}
