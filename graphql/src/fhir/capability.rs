//! `GET /fhir/R4/metadata`: the CapabilityStatement, listing exactly what `routes`
//! serves. Public, as FHIR clients ask for it before they sign in.

use super::{base_url, outcome::Outcome, outcome::fhir_json, resources::date_time};
use crate::AppState;
use axum::{
    extract::State,
    response::{IntoResponse, Response},
};
use fhir::r4::{
    coded::Coded,
    codes::{
        CapabilityStatementKind, FhirVersion, PublicationStatus, ResourceTypes,
        RestfulCapabilityMode, SearchParamType,
    },
    resources::{
        CapabilityStatement, Resource,
        capability_statement::{
            CapabilityStatementImplementation, CapabilityStatementRest,
            CapabilityStatementRestResource, CapabilityStatementRestResourceInteraction,
            CapabilityStatementRestResourceOperation, CapabilityStatementRestResourceSearchParam,
            CapabilityStatementRestSecurity, CapabilityStatementSoftware,
        },
    },
    types::{Canonical, Code, Markdown, String as FhirString, Url},
};

fn interactions(codes: &[&str]) -> Vec<CapabilityStatementRestResourceInteraction> {
    codes
        .iter()
        .map(|c| CapabilityStatementRestResourceInteraction {
            code: Code((*c).into()),
            ..Default::default()
        })
        .collect()
}

fn by_patient() -> Vec<CapabilityStatementRestResourceSearchParam> {
    vec![CapabilityStatementRestResourceSearchParam {
        name: FhirString("patient".into()),
        r#type: Coded::Known(SearchParamType::Reference),
        documentation: Some(Markdown(
            "Required. The patient's id; pages with `_count` (at most 200) and `_offset`.".into(),
        )),
        ..Default::default()
    }]
}

fn resource(
    kind: ResourceTypes,
    codes: &[&str],
    search: bool,
    documentation: &str,
) -> CapabilityStatementRestResource {
    CapabilityStatementRestResource {
        r#type: Coded::Known(kind),
        interaction: interactions(codes),
        search_param: if search { by_patient() } else { Vec::new() },
        documentation: Some(Markdown(documentation.into())),
        ..Default::default()
    }
}

pub async fn metadata(State(state): State<AppState>) -> Response {
    let mut patient = resource(
        ResourceTypes::Patient,
        &["read"],
        false,
        "The patient, their proxies, doctors in their care now and administrators.",
    );
    patient.operation = vec![CapabilityStatementRestResourceOperation {
        name: FhirString("everything".into()),
        definition: Canonical("http://hl7.org/fhir/OperationDefinition/Patient-everything".into()),
        documentation: Some(Markdown(
            "Everything of the patient's the caller may see, as a searchset Bundle.".into(),
        )),
        ..Default::default()
    }];
    let rest = CapabilityStatementRest {
        mode: Coded::Known(RestfulCapabilityMode::Server),
        documentation: Some(Markdown(
            "Read-only. Every read is decided by MedChain's access rules; reading a Binary \
             is recorded on the ledger before its first byte."
                .into(),
        )),
        security: Some(CapabilityStatementRestSecurity {
            description: Some(Markdown(
                "`Authorization: Bearer` with a read token (made in the web app, good for \
                 GET /fhir/R4 only) or a session token; or the web app's session cookie."
                    .into(),
            )),
            ..Default::default()
        }),
        resource: vec![
            patient,
            resource(
                ResourceTypes::DocumentReference,
                &["read", "search-type"],
                true,
                "A record's metadata; never for administrators.",
            ),
            resource(
                ResourceTypes::Binary,
                &["read"],
                false,
                "A record's content: raw bytes, or a Binary resource when FHIR JSON is asked for.",
            ),
            resource(
                ResourceTypes::Consent,
                &["search-type"],
                true,
                "Shares, proxy grants and share links, with their periods and state; the patient and their proxies.",
            ),
            resource(
                ResourceTypes::AuditEvent,
                &["search-type"],
                true,
                "Reads, refusals and emergency reads of the patient's records; the patient and administrators.",
            ),
        ],
        ..Default::default()
    };
    let built = CapabilityStatement::builder()
        .url(fhir::r4::types::Uri(format!(
            "{}/metadata",
            base_url(&state)
        )))
        .name(FhirString("MedChain".into()))
        .title(FhirString("MedChain FHIR R4 read API".into()))
        .status(Coded::Known(PublicationStatus::Active))
        .date(date_time(state.services.clock.now()))
        .kind(Coded::Known(CapabilityStatementKind::Instance))
        .software(CapabilityStatementSoftware {
            name: FhirString("MedChain".into()),
            version: Some(FhirString(env!("CARGO_PKG_VERSION").into())),
            ..Default::default()
        })
        .implementation(CapabilityStatementImplementation {
            description: FhirString("MedChain medical records".into()),
            url: Some(Url(base_url(&state))),
            ..Default::default()
        })
        .fhir_version(Coded::Known(FhirVersion::N401))
        .format(vec1::vec1![
            Code("json".into()),
            Code("application/fhir+json".into())
        ])
        .rest(vec![rest])
        .build();
    match built {
        Ok(statement) => fhir_json(&Resource::CapabilityStatement(Box::new(statement))),
        Err(e) => Outcome::internal(e).into_response(),
    }
}
