//! FHIR R4, read-only, at `/fhir/R4` (DESIGN.md §12): `metadata`, `Patient/{id}`,
//! `Patient/{id}/$everything`, `DocumentReference?patient=` and `/{id}`, `Binary/{id}`,
//! `Consent?patient=`, `AuditEvent?patient=`; `application/fhir+json`; every refusal an
//! `OperationOutcome`.
//!
//! - `caller`: a session, or an app's read token (accepted here and nowhere else);
//! - `facts` (the crate's `record_access`): what the access rules take; the rules in
//!   `domain` decide every read, exactly as for GraphQL and the content route;
//! - `resources`: MedChain's views as R4 resources through the `fhir` crate's model;
//! - `search`: searchset Bundles with `_count`, `_offset` and `next` links;
//! - `outcome`: OperationOutcome and the status of each refusal (the API's one mapping);
//! - one file per interaction: `capability`, `patient`, `documents`, `binary`,
//!   `consent`, `audit`, `everything`.

pub(crate) mod audit;
mod binary;
mod caller;
mod capability;
pub(crate) mod consent;
pub(crate) mod documents;
mod everything;
pub(crate) mod outcome;
pub(crate) mod patient;
pub mod resources;
pub(crate) mod search;

use crate::AppState;
use axum::{
    Router,
    http::StatusCode,
    response::{IntoResponse, Response},
    routing::{MethodRouter, get},
};
use outcome::Outcome;
use std::collections::HashMap;
use uuid::Uuid;

pub const BASE: &str = "/fhir/R4";

/// What the routes are; anything else under the base is an OperationOutcome too.
pub fn routes() -> Router<AppState> {
    let read = |route: MethodRouter<AppState>| route.fallback(read_only);
    Router::new()
        .route("/fhir/R4/metadata", read(get(capability::metadata)))
        .route("/fhir/R4/Patient/{id}", read(get(patient::read)))
        .route(
            "/fhir/R4/Patient/{id}/$everything",
            read(get(everything::everything)),
        )
        .route("/fhir/R4/DocumentReference", read(get(documents::search)))
        .route(
            "/fhir/R4/DocumentReference/{id}",
            read(get(documents::read)),
        )
        .route("/fhir/R4/Binary/{id}", read(get(binary::read)))
        .route("/fhir/R4/Consent", read(get(consent::search)))
        .route("/fhir/R4/AuditEvent", read(get(audit::search)))
        .route("/fhir/R4", axum::routing::any(unknown))
        .route("/fhir/R4/{*rest}", axum::routing::any(unknown))
}

async fn read_only() -> Response {
    Outcome::with_status(
        StatusCode::METHOD_NOT_ALLOWED,
        crate::error::Code::BadUserInput,
        "this FHIR server is read-only: GET only",
    )
    .into_response()
}

async fn unknown() -> Response {
    Outcome::new(
        crate::error::Code::NotFound,
        "not served here; see /fhir/R4/metadata for what is",
    )
    .into_response()
}

/// The absolute base of this server's FHIR API, for `fullUrl`s and links.
pub(crate) fn base_url(state: &AppState) -> String {
    format!("{}{BASE}", state.services.public_url.trim_end_matches('/'))
}

/// An id in a path: a resource id here is a UUID; anything else names nothing.
fn path_id(raw: &str, what: &str) -> Result<Uuid, Outcome> {
    Uuid::try_parse(raw).map_err(|_| Outcome::not_found(what))
}

/// The people a page names, with their names opened, as references name them.
async fn people(
    state: &AppState,
    ids: impl IntoIterator<Item = Uuid>,
) -> Result<HashMap<Uuid, resources::Person>, Outcome> {
    let mut ids: Vec<Uuid> = ids.into_iter().collect();
    ids.sort_unstable();
    ids.dedup();
    let s = &state.services;
    let found = projections::users::find_many(&s.pool, &s.keys, &ids).await?;
    Ok(ids
        .into_iter()
        .map(|id| {
            let view = found.get(&id);
            let person = resources::Person {
                id,
                role: view.map(|v| v.role),
                name: view.and_then(|v| v.name.clone()),
            };
            (id, person)
        })
        .collect())
}
