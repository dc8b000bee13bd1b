//! `GET /fhir/R4/DocumentReference?patient=` and `/DocumentReference/{id}`: a record's
//! metadata for whoever the access rules let see its medical fields (the owner, a doctor
//! with a live share or an open emergency access, a proxy). An administrator is refused:
//! they may know a record exists, never what it is about. Erased records are gone.

use super::{base_url, caller::fhir_caller, outcome::Outcome, path_id, people, resources, search};
use crate::{AppState, csrf::Intent, error::Code, record_access::facts_about};
use axum::{
    extract::{Path, Query, State},
    http::{HeaderMap, StatusCode},
    response::Response,
};
use commands::Caller;
use domain::account::{Role, UserId};
use domain::record::{Access, RecordId};
use fhir::r4::resources::Resource;
use projections::records::{self, Medical, RecordView};

/// The most records one patient's list is read in; far above what a person keeps.
const MAX_RECORDS: i64 = 100_000;

pub(crate) fn refuse_admin(caller: &Caller) -> Result<(), Outcome> {
    if caller.role == Role::Admin {
        return Err(Outcome::new(
            Code::Forbidden,
            "administrators never see medical content",
        ));
    }
    Ok(())
}

/// The patient's records the caller may see the medical fields of, newest first, opened.
pub(crate) async fn visible_of(
    state: &AppState,
    caller: &Caller,
    patient: UserId,
) -> Result<Vec<(RecordView, Medical)>, Outcome> {
    let s = &state.services;
    let facts = facts_about(s, caller, patient).await?;
    let views = records::of_owner(&s.pool, &s.keys, patient, None, MAX_RECORDS).await?;
    let mut seen = Vec::new();
    for view in views {
        if view.erased || !facts.access(&view).sees_medical_content() {
            continue;
        }
        if let Some(medical) = view.medical()? {
            seen.push((view, medical));
        }
    }
    Ok(seen)
}

/// DocumentReferences (and, with `provenance`, a Provenance for each record a doctor
/// added) with their `fullUrl`s.
pub(crate) async fn entries(
    state: &AppState,
    seen: &[(RecordView, Medical)],
    provenance: bool,
) -> Result<Vec<(String, Resource)>, Outcome> {
    let base = base_url(state);
    let authors = people(state, seen.iter().map(|(v, _)| v.author.as_uuid())).await?;
    let mut out = Vec::new();
    for (view, medical) in seen {
        let author = &authors[&view.author.as_uuid()];
        let id = view.id.as_uuid();
        let document = resources::document_reference(&base, view, medical, author)
            .map_err(Outcome::internal)?;
        out.push((format!("{base}/DocumentReference/{id}"), document));
        if provenance && view.author != view.owner {
            let resource = resources::provenance(view, author).map_err(Outcome::internal)?;
            out.push((format!("{base}/Provenance/added-{id}"), resource));
        }
    }
    Ok(out)
}

pub async fn search(
    State(state): State<AppState>,
    headers: HeaderMap,
    Query(params): Query<search::SearchParams>,
) -> Response {
    let found = async {
        let caller = fhir_caller(&state, &headers, Intent::Read).await?;
        refuse_admin(&caller)?;
        let page = params.page()?;
        let patient = params.patient()?;
        let seen = visible_of(&state, &caller, UserId::from_uuid(patient)).await?;
        let (items, more, total) = search::paged(seen, page);
        let entries = entries(&state, &items, false).await?;
        search::searchset(
            &base_url(&state),
            &format!("/DocumentReference?patient={patient}"),
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

pub async fn read(
    State(state): State<AppState>,
    headers: HeaderMap,
    Path(id): Path<String>,
) -> Response {
    let found = async {
        let caller = fhir_caller(&state, &headers, Intent::Read).await?;
        let id = path_id(&id, "document")?;
        let s = &state.services;
        let view = records::find(&s.pool, &s.keys, RecordId::from_uuid(id))
            .await?
            .ok_or_else(|| Outcome::not_found("document"))?;
        let access = facts_about(s, &caller, view.owner).await?.access(&view);
        match access {
            Access::Oversight => refuse_admin(&caller)?,
            a if !a.sees_medical_content() => return Err(Outcome::not_found("document")),
            _ => {}
        }
        let gone =
            || Outcome::with_status(StatusCode::GONE, Code::NotFound, "this record was erased");
        if view.erased {
            return Err(gone());
        }
        let medical = view.medical()?.ok_or_else(gone)?;
        let entries = entries(&state, &[(view, medical)], false).await?;
        entries
            .into_iter()
            .next()
            .map(|(_, resource)| resource)
            .ok_or_else(|| Outcome::not_found("document"))
    };
    super::outcome::answer(found.await)
}
