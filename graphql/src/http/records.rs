//! The record routes beside `/graphql` (API.graphql): `POST /api/records` (multipart:
//! `title`, optional `description`, a doctor's `patient` (whose file it goes into, asked
//! of the care rules at once), then `file`, streamed into the command layer, which
//! encrypts it as it arrives) and `GET /api/records/{id}/content` (decrypted as it is
//! sent, after the read is on the ledger).

use crate::{
    AppState,
    csrf::Intent,
    error::Code,
    http::rest::{PathId, caller, command_error, error, private_content},
};
use axum::{
    Json,
    body::Body,
    extract::{FromRequest as _, Multipart, Query, Request, State},
    http::{HeaderMap, HeaderValue, StatusCode, header},
    response::{IntoResponse, Response},
};
use commands::records::{ContentError, Upload, UploadError};
use domain::record::{Denial, Description, FileName, ReadAction, RecordId, Title};
use futures::TryStreamExt as _;
use percent_encoding::{AsciiSet, NON_ALPHANUMERIC, utf8_percent_encode};
use serde::Deserialize;
use serde_json::json;

/// The form's text fields are small; this bounds what is buffered of them.
const MAX_TEXT_FIELD: usize = 64 * 1024;

fn bad_input(message: &str) -> Response {
    error(StatusCode::BAD_REQUEST, Code::BadUserInput, message)
}

/// A text field, read whole up to `MAX_TEXT_FIELD` bytes.
async fn text(field: axum::extract::multipart::Field<'_>) -> Result<String, Response> {
    let mut field = field;
    let mut bytes = Vec::new();
    while let Some(chunk) = field
        .chunk()
        .await
        .map_err(|e| bad_input(&format!("the form could not be read: {e}")))?
    {
        if bytes.len() + chunk.len() > MAX_TEXT_FIELD {
            return Err(error(
                StatusCode::PAYLOAD_TOO_LARGE,
                Code::BadUserInput,
                "a form field is too long",
            ));
        }
        bytes.extend_from_slice(&chunk);
    }
    String::from_utf8(bytes).map_err(|_| bad_input("form fields must be UTF-8 text"))
}

pub async fn upload(State(state): State<AppState>, request: Request) -> Response {
    let caller = match caller(&state, request.headers(), Intent::Change).await {
        Ok(c) => c,
        Err(r) => return r,
    };
    let records = &state.services.records;
    // Refused before a byte of the body is read.
    if let Err(e) = records.check_uploader(&caller) {
        return command_error(e);
    }
    let mut multipart = match Multipart::from_request(request, &state).await {
        Ok(m) => m,
        Err(e) => return bad_input(&format!("send multipart/form-data: {e}")),
    };
    let mut title = None;
    let mut description = None;
    let mut patient = None;
    loop {
        let field = match multipart.next_field().await {
            Ok(Some(field)) => field,
            Ok(None) => return bad_input("the form has no file field"),
            Err(e) => return bad_input(&format!("the form could not be read: {e}")),
        };
        match field.name() {
            Some("title") => match text(field).await {
                Ok(t) => title = Some(t),
                Err(r) => return r,
            },
            Some("description") => match text(field).await {
                Ok(d) => description = Some(d),
                Err(r) => return r,
            },
            Some("patient") => {
                let raw = match text(field).await {
                    Ok(p) => p,
                    Err(r) => return r,
                };
                let Ok(id) = uuid::Uuid::try_parse(raw.trim()) else {
                    return bad_input("patient is the patient's id (a UUID)");
                };
                let id = domain::account::UserId::from_uuid(id);
                // Refused before a byte of the file is read.
                if let Err(e) = records.check_on_behalf(&caller, id).await {
                    return command_error(e);
                }
                patient = Some(id);
            }
            Some("file") => {
                let Some(raw_title) = title.take() else {
                    return bad_input("the title comes before the file");
                };
                let title = match Title::parse(&raw_title) {
                    Ok(t) => t,
                    Err(e) => return bad_input(&e.to_string()),
                };
                let description = match description.take().map(|d| Description::parse(&d)) {
                    None => None,
                    Some(Ok(d)) => d,
                    Some(Err(e)) => return bad_input(&e.to_string()),
                };
                let file_name = field.file_name().and_then(|n| FileName::parse(n).ok());
                let meta = Upload {
                    title,
                    description,
                    file_name,
                    patient,
                };
                let stream = field.map_err(|e| e.to_string());
                return match records.upload(&caller, meta, Box::pin(stream)).await {
                    Ok(uploaded) => {
                        let waiting = std::time::Instant::now();
                        if let Err(e) = state
                            .services
                            .projections
                            .wait_for(&["records"], uploaded.seq, crate::context::READ_YOUR_WRITES)
                            .await
                        {
                            tracing::warn!(error = %e, "record stored; the records view is late");
                        }
                        (
                            StatusCode::CREATED,
                            [(
                                "server-timing",
                                server_timing(&uploaded.timings, waiting.elapsed()),
                            )],
                            Json(json!({
                                "id": uploaded.id.as_uuid(),
                                "sha256": uploaded.sha256,
                                "seq": uploaded.seq,
                            })),
                        )
                            .into_response()
                    }
                    Err(e) => upload_error(e),
                };
            }
            _ => {
                return bad_input("the form's fields are title, description, patient and file");
            }
        }
    }
}

/// The upload's phases as a `Server-Timing` header (milliseconds), which browsers'
/// developer tools show and `bench records` reads; `wait` is read-your-writes.
fn server_timing(t: &commands::records::UploadTimings, wait: std::time::Duration) -> String {
    [
        ("checks", t.checks),
        ("receive", t.receive),
        ("seal", t.seal),
        ("blob", t.blob),
        ("append", t.append),
        ("wait", wait),
    ]
    .iter()
    .map(|(name, d)| format!("{name};dur={:.3}", d.as_secs_f64() * 1000.0))
    .collect::<Vec<_>>()
    .join(", ")
}

fn upload_error(e: UploadError) -> Response {
    match e {
        UploadError::Command(e) => command_error(e),
        UploadError::TypeNotAllowed(m) => {
            error(StatusCode::UNSUPPORTED_MEDIA_TYPE, Code::BadUserInput, &m)
        }
        e @ (UploadError::TooLarge(_) | UploadError::OverQuota { .. }) => error(
            StatusCode::PAYLOAD_TOO_LARGE,
            Code::BadUserInput,
            &e.to_string(),
        ),
        e @ UploadError::Empty => bad_input(&e.to_string()),
        e @ UploadError::StoreUnavailable => unavailable(&e.to_string()),
        e @ UploadError::StoreFull => error(
            StatusCode::INSUFFICIENT_STORAGE,
            Code::Internal,
            &e.to_string(),
        ),
        UploadError::Interrupted(cause) => {
            tracing::info!(cause = %cause, "an upload was cut off; nothing was kept");
            bad_input("the upload was cut off; nothing was kept")
        }
    }
}

#[derive(Deserialize)]
pub struct ContentQuery {
    inline: Option<String>,
}

/// Characters kept as they are in an RFC 8187 `filename*`.
const ATTR_CHAR: &AsciiSet = &NON_ALPHANUMERIC
    .remove(b'!')
    .remove(b'#')
    .remove(b'$')
    .remove(b'&')
    .remove(b'+')
    .remove(b'-')
    .remove(b'.')
    .remove(b'^')
    .remove(b'_')
    .remove(b'`')
    .remove(b'|')
    .remove(b'~');

/// `attachment` or `inline`, with the file name as ASCII and as UTF-8 (RFC 6266).
fn disposition(kind: &str, file_name: &str) -> HeaderValue {
    let ascii: String = file_name
        .chars()
        .map(|c| {
            if c.is_ascii_graphic() || c == ' ' {
                c
            } else {
                '_'
            }
        })
        .filter(|c| *c != '"' && *c != '\\')
        .collect();
    let value = format!(
        "{kind}; filename=\"{ascii}\"; filename*=UTF-8''{}",
        utf8_percent_encode(file_name, ATTR_CHAR)
    );
    HeaderValue::from_str(&value).unwrap_or_else(|_| HeaderValue::from_static("attachment"))
}

pub async fn content(
    State(state): State<AppState>,
    headers: HeaderMap,
    PathId(id): PathId,
    Query(query): Query<ContentQuery>,
) -> Response {
    let began = std::time::Instant::now();
    let caller = match caller(&state, &headers, Intent::RecordedRead).await {
        Ok(c) => c,
        Err(r) => return r,
    };
    let authenticated = std::time::Instant::now();
    let inline = query.inline.is_some_and(|v| v == "1" || v == "true");
    let action = if inline {
        ReadAction::Viewed
    } else {
        ReadAction::Downloaded
    };
    let content = match state
        .services
        .records
        .open_content(&caller, RecordId::from_uuid(id), action)
        .await
    {
        Ok(content) => content,
        Err(e) => return content_error(e),
    };
    // Before the first byte: who asks, then the access decision, the read's event on
    // the ledger and the blob opened (`bench records` reads these).
    let timing = format!(
        "auth;dur={:.3}, open;dur={:.3}",
        (authenticated - began).as_secs_f64() * 1000.0,
        authenticated.elapsed().as_secs_f64() * 1000.0
    );
    respond(&state, content, inline, &timing)
}

/// A refused read, or a failure before the first byte, as its status and JSON body.
pub(crate) fn content_error(e: ContentError) -> Response {
    let denial = match e {
        ContentError::Denied(denial) => denial,
        ContentError::Command(e) => return command_error(e),
        e @ ContentError::Unavailable => return unavailable(&e.to_string()),
    };
    let (status, code) = denial_status(denial);
    error(status, code, &denial.to_string())
}

/// 503 with `Retry-After`: the blob store is out, not the request wrong.
pub(crate) fn unavailable(message: &str) -> Response {
    let mut response = error(StatusCode::SERVICE_UNAVAILABLE, Code::Internal, message);
    response
        .headers_mut()
        .insert(header::RETRY_AFTER, HeaderValue::from_static("30"));
    response
}

/// How a refused read is answered, by every route that reads content.
pub(crate) fn denial_status(denial: Denial) -> (StatusCode, Code) {
    match denial {
        Denial::NotFound => (StatusCode::NOT_FOUND, Code::NotFound),
        // Gone: erased, or a share link (or the reader's time through it) ended.
        Denial::Erased | Denial::LinkEnded => (StatusCode::GONE, Code::NotFound),
        Denial::Admin | Denial::Revoked | Denial::Expired | Denial::EmergencyEnded => {
            (StatusCode::FORBIDDEN, Code::Forbidden)
        }
    }
}

/// A granted read's response: the plaintext streamed as it is decrypted, with the
/// read's signed promise, its timing, and headers that keep the file inert.
pub(crate) fn respond(
    state: &AppState,
    content: commands::records::Content,
    inline: bool,
    timing: &str,
) -> Response {
    let body = Body::from_stream(
        content
            .body
            .map_err(|e| std::io::Error::new(std::io::ErrorKind::InvalidData, e)),
    );
    // A signed promise that the read is on the ledger (DESIGN.md §9); the inclusion
    // proof follows once a signed tree head covers it.
    let receipt = domain::ledger::receipt::promise_header(
        content.seq,
        &content.hash,
        state.services.ledger_key.signing_key(),
    );
    let mut response = Response::new(body);
    let h = response.headers_mut();
    if let Ok(receipt) = HeaderValue::from_str(&receipt) {
        h.insert("medchain-receipt", receipt);
    }
    if let Ok(timing) = HeaderValue::from_str(timing) {
        h.insert("server-timing", timing);
    }
    h.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_str(&content.content_type)
            .unwrap_or_else(|_| HeaderValue::from_static("application/octet-stream")),
    );
    h.insert(header::CONTENT_LENGTH, HeaderValue::from(content.size));
    h.insert(
        header::CONTENT_DISPOSITION,
        disposition(
            if inline { "inline" } else { "attachment" },
            &content.file_name,
        ),
    );
    private_content(h);
    // Nothing a file says may run as this origin, even opened inline.
    h.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(
            "default-src 'none'; img-src 'self'; style-src 'unsafe-inline'; sandbox",
        ),
    );
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_disposition_names_the_file_safely_in_both_forms() {
        let v = disposition("attachment", "résumé \"1\".pdf");
        assert_eq!(
            v.to_str().unwrap(),
            "attachment; filename=\"r_sum_ 1.pdf\"; filename*=UTF-8''r%C3%A9sum%C3%A9%20%221%22.pdf"
        );
    }
}
