//! `GET /api/me/export` (a patient; a MANAGE proxy with `?patient=`): everything of the
//! patient's, with the proofs that it is what the ledger holds (DESIGN.md §12), as a zip
//! streamed in bounded memory whatever its size.
//!
//! Before a byte is sent: the rule (`domain::account::exporter`), the records the caller
//! may see the content of (the access rules, as for FHIR), the `DataExported` event on the
//! ledger, and a signed tree head covering it (`head`). Then, on a blocking thread
//! (`zip` is synchronous) writing into the response through a bounded channel
//! (`channel_writer`): each file decrypted as it goes (`files/<record>/<safe name>`), the
//! FHIR Bundle, the ledger's events with an inclusion proof each and the head (with, when
//! it has no cosignatures yet, the newest cosigned head and the proof it extends that
//! one: `ledger/witnessed.json`), and last
//! the manifest (each file's hash is known only once it has been read) and its
//! signature. Files are stored, not compressed: medical files are mostly compressed
//! already, and storing keeps the CPU per byte at the decryption's.

mod channel_writer;
mod head;

use crate::{
    AppState,
    csrf::Intent,
    error::Code,
    fhir::{self, outcome::Outcome},
    http::rest::{caller, command_error, error},
    record_access::facts_about,
    types::transparency::TreeHead,
};
use axum::{
    body::Body,
    extract::{Query, State},
    http::{HeaderMap, HeaderValue, StatusCode, header},
    response::Response,
};
use bytes::Bytes;
use channel_writer::ChannelWriter;
use commands::{Caller, records::ExportTicket};
use domain::Aggregate as _;
use domain::account::{UserId, exporter};
use domain::ledger::Hash;
use domain::ledger::export_manifest::{Manifest, ManifestFile, ManifestPart};
use domain::record::safe_basename;
use fhir::resources::instant;
use fhir_model::{
    coded::Coded,
    codes::BundleType,
    resources::{Bundle, Resource, bundle::BundleEntry},
    types::{String as FhirString, Uri},
};
use futures::StreamExt as _;
use serde::Deserialize;
use sha2::{Digest as _, Sha256};
use std::io::Write as _;
use uuid::Uuid;
use zip::{CompressionMethod, ZipWriter, write::SimpleFileOptions};

use ::fhir::r4 as fhir_model;

/// The newest audit events the bundle carries.
const AUDIT_EVENTS: usize = 10_000;
/// Chunks of the zip in flight between its thread and the response.
const IN_FLIGHT: usize = 2;

#[derive(Debug, Default, Deserialize)]
pub struct ExportQuery {
    patient: Option<Uuid>,
}

/// What the writing thread needs, gathered before the first byte.
struct Plan {
    ticket: ExportTicket,
    head: TreeHead,
    bundle: Vec<u8>,
    events: Vec<u8>,
    proofs: Vec<u8>,
    checkpoint: Vec<u8>,
    /// The newest head witnesses cosigned, with the proof that the export's head extends
    /// it, when the export's own head carries no cosignatures yet.
    witnessed: Option<Vec<u8>>,
}

pub async fn export(
    State(state): State<AppState>,
    headers: HeaderMap,
    Query(query): Query<ExportQuery>,
) -> Response {
    let caller = match caller(&state, &headers, Intent::RecordedRead).await {
        Ok(c) => c,
        Err(r) => return r,
    };
    let patient = UserId::from_uuid(query.patient.unwrap_or(caller.user.as_uuid()));
    let plan = match prepare(&state, &caller, patient).await {
        Ok(plan) => plan,
        Err(response) => return response,
    };
    let (tx, rx) = tokio::sync::mpsc::channel::<Result<Bytes, std::io::Error>>(IN_FLIGHT);
    let handle = tokio::runtime::Handle::current();
    let writing = state.clone();
    tokio::task::spawn_blocking(move || {
        let failed = tx.clone();
        if let Err(e) = write_zip(&handle, &writing, plan, ChannelWriter::new(tx)) {
            tracing::error!(error = %e, patient.id = %patient, "an export was cut short");
            let _ = failed.blocking_send(Err(std::io::Error::other("the export failed")));
        }
    });
    let mut response = Response::new(Body::from_stream(
        tokio_stream::wrappers::ReceiverStream::new(rx),
    ));
    let h = response.headers_mut();
    h.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/zip"),
    );
    let name = format!(
        "attachment; filename=\"medchain-export-{}.zip\"",
        state.services.clock.now().to_datetime().format("%Y-%m-%d")
    );
    if let Ok(name) = HeaderValue::from_str(&name) {
        h.insert(header::CONTENT_DISPOSITION, name);
    }
    crate::http::rest::private_content(h);
    response
}

fn outcome_response(o: Outcome) -> Response {
    error(o.status, o.code, &o.message)
}

fn gql_response(e: async_graphql::Error) -> Response {
    let code = Code::of(&e);
    error(code.status(), code, &e.message)
}

async fn prepare(state: &AppState, caller: &Caller, patient: UserId) -> Result<Plan, Response> {
    let s = &state.services;
    let facts = facts_about(s, caller, patient)
        .await
        .map_err(command_error)?;
    let exporter = exporter(caller.viewer(), patient, facts.proxy_standing())
        .map_err(|e| error(StatusCode::FORBIDDEN, Code::Forbidden, &e.to_string()))?;
    // The records whose content the caller may see, as FHIR lists them.
    let seen = fhir::documents::visible_of(state, caller, patient)
        .await
        .map_err(outcome_response)?;
    let ids = seen.iter().map(|(v, _)| v.id).collect();
    let ticket = s
        .records
        .begin_export(caller, patient, exporter, ids)
        .await
        .map_err(command_error)?;
    let head = head::head_covering(s, ticket.seq)
        .await
        .map_err(gql_response)?;
    let size = head.signed.checkpoint.seq;

    // The ledger: the patient's stream, their records', their proxies' and links'.
    let mut streams = vec![patient.stream().as_str().to_owned()];
    let all_records = matches!(exporter, domain::account::Exporter::Patient);
    let owned = projections::records::of_owner(&s.pool, &s.keys, patient, None, 100_000)
        .await
        .map_err(|e| outcome_response(e.into()))?;
    for view in &owned {
        if all_records || seen.iter().any(|(v, _)| v.id == view.id) {
            streams.push(view.id.stream().as_str().to_owned());
        }
    }
    streams.push(domain::proxy::Proxies::stream(patient).as_str().to_owned());
    let links = projections::links::of_owner(&s.pool, patient)
        .await
        .map_err(|e| outcome_response(e.into()))?;
    for link in &links {
        let id = domain::link::LinkId::from_uuid(link.id);
        streams.push(domain::link::ShareLink::stream(id).as_str().to_owned());
    }
    let lines = commands::ledger::export_lines_of_streams(&s.pool, &streams, size)
        .await
        .map_err(|e| outcome_response(Outcome::internal(e)))?;
    let mut events = Vec::new();
    let mut proofs = Vec::new();
    let mut conn = s
        .pool
        .acquire()
        .await
        .map_err(|e| outcome_response(Outcome::internal(e)))?;
    for (seq, line) in &lines {
        let (_, path) = projections::merkle::inclusion(&mut conn, &s.tree_nodes, *seq, size)
            .await
            .map_err(|e| outcome_response(Outcome::internal(e)))?;
        events.extend_from_slice(line.as_bytes());
        events.push(b'\n');
        let proof = serde_json::json!({
            "seq": seq,
            "treeSize": size,
            "path": path.iter().map(Hash::to_hex).collect::<Vec<_>>(),
        });
        proofs.extend_from_slice(proof.to_string().as_bytes());
        proofs.push(b'\n');
    }
    drop(conn);
    let checkpoint = crate::http::log::head_json(&head).to_string().into_bytes();
    let witnessed = head::witnessed_before(s, &head)
        .await
        .map_err(gql_response)?
        .map(|doc| doc.to_string().into_bytes());
    let bundle = bundle(state, caller, patient, &seen)
        .await
        .map_err(outcome_response)?;
    Ok(Plan {
        ticket,
        head,
        bundle,
        events,
        proofs,
        checkpoint,
        witnessed,
    })
}

/// The FHIR R4 Bundle (`collection`) of what the caller may see of the patient: the
/// Patient, a DocumentReference per record (a Provenance for each a doctor added), the
/// Consents and the AuditEvents where their rules allow.
async fn bundle(
    state: &AppState,
    caller: &Caller,
    patient: UserId,
    seen: &[(
        projections::records::RecordView,
        projections::records::Medical,
    )],
) -> Result<Vec<u8>, Outcome> {
    let mut entries = vec![fhir::patient::patient_for(state, caller, patient.as_uuid()).await?];
    entries.extend(fhir::documents::entries(state, seen, true).await?);
    match fhir::consent::consents_of(state, caller, patient).await {
        Ok(consents) => entries.extend(consents),
        Err(o) if o.status == StatusCode::FORBIDDEN => {}
        Err(o) => return Err(o),
    }
    if domain::account::disclosures_subject(caller.viewer(), Some(patient)).is_ok() {
        let page = fhir::search::Page {
            offset: 0,
            count: AUDIT_EVENTS,
        };
        let (audit, _) = fhir::audit::audit_events_of(state, caller, patient, page).await?;
        entries.extend(audit);
    }
    let entry = entries
        .into_iter()
        .map(|(full_url, resource)| {
            Ok(BundleEntry {
                full_url: Some(Uri(full_url)),
                resource: Some(serde_json::to_value(resource).map_err(Outcome::internal)?),
                ..Default::default()
            })
        })
        .collect::<Result<Vec<_>, Outcome>>()?;
    let bundle = Bundle {
        id: Some(FhirString(Uuid::new_v4().to_string())),
        r#type: Coded::Known(BundleType::Collection),
        timestamp: Some(instant(state.services.clock.now())),
        entry,
        ..Default::default()
    };
    serde_json::to_vec(&Resource::Bundle(Box::new(bundle))).map_err(Outcome::internal)
}

type Failure = Box<dyn std::error::Error + Send + Sync>;

fn stored() -> SimpleFileOptions {
    SimpleFileOptions::default().compression_method(CompressionMethod::Stored)
}

/// Writes the zip (on a blocking thread): files first, each hashed as it passes, then
/// the other parts, and the manifest last.
fn write_zip(
    handle: &tokio::runtime::Handle,
    state: &AppState,
    plan: Plan,
    out: ChannelWriter,
) -> Result<(), Failure> {
    let s = &state.services;
    let checkpoint = &plan.head.signed.checkpoint;
    let mut manifest = Manifest::new(
        plan.ticket.patient().as_uuid(),
        s.clock.now(),
        checkpoint.seq,
        checkpoint.hash,
    );
    let mut zip = ZipWriter::new_stream(out);
    for id in plan.ticket.records() {
        let mut file = match handle.block_on(s.records.export_file(&plan.ticket, *id)) {
            Ok(file) => file,
            // Erased since the export was decided: gone, as it would be a moment later.
            Err(commands::records::ContentError::Denied(_)) => continue,
            Err(commands::records::ContentError::Command(e)) => return Err(Box::new(e)),
            Err(e @ commands::records::ContentError::Unavailable) => return Err(Box::new(e)),
        };
        let path = format!("files/{id}/{}", safe_basename(&file.file_name));
        let large = file.size >= u64::from(u32::MAX);
        zip.start_file(path.as_str(), stored().large_file(large))?;
        let mut sha = Sha256::new();
        let mut written = 0u64;
        while let Some(chunk) = handle.block_on(file.body.next()) {
            let chunk = chunk?;
            sha.update(&chunk);
            written += chunk.len() as u64;
            zip.write_all(&chunk)?;
        }
        if written != file.size {
            return Err(format!("record {id}: {written} bytes of {}", file.size).into());
        }
        let header = file
            .header
            .get()
            .ok_or_else(|| format!("record {id}: the blob's header was not read"))?;
        manifest.files.push(ManifestFile {
            path,
            record: id.as_uuid(),
            file_name: file.file_name,
            sha256: hex::encode(sha.finalize()),
            size: file.size,
            data_key: hex::encode(file.data_key.export_bytes()),
            blob_header: hex::encode(header),
        });
    }
    let mut parts = vec![
        ("fhir/bundle.json", &plan.bundle),
        ("ledger/events.jsonl", &plan.events),
        ("ledger/proofs.jsonl", &plan.proofs),
        ("ledger/checkpoint.json", &plan.checkpoint),
    ];
    if let Some(witnessed) = &plan.witnessed {
        parts.push(("ledger/witnessed.json", witnessed));
    }
    for (path, bytes) in parts {
        zip.start_file(path, stored())?;
        zip.write_all(bytes)?;
        manifest.parts.push(ManifestPart {
            path: path.to_owned(),
            sha256: hex::encode(Sha256::digest(bytes)),
            size: bytes.len() as u64,
        });
    }
    let (json, sig) = manifest.signed(s.ledger_key.signing_key());
    zip.start_file("manifest.json", stored())?;
    zip.write_all(&json)?;
    zip.start_file("manifest.sig", stored())?;
    zip.write_all(sig.as_bytes())?;
    let mut out = zip.finish()?.into_inner();
    out.flush()?;
    Ok(())
}
