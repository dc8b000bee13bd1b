//! `GET /fhir/R4/Binary/{id}`: a record's content under the content route's rules
//! (`Records::open_content`: the access rules decide, the read is on the ledger before
//! the first byte, and the answer carries its signed receipt). Asked for as FHIR JSON
//! (`Accept: application/fhir+json` or `_format=json`), it is a `Binary` resource whose
//! `data` is base64 written as the file is decrypted; otherwise the bytes themselves,
//! as FHIR allows for Binary.
//!
//! The Binary resource is written here, not through the `fhir` model: the model holds
//! `data` as one string, which would put a file of any size in memory; streamed, the
//! memory stays bounded. Its shape is the model's (`resourceType`, `id`, `contentType`,
//! `data`), and the tests validate it independently.

use super::{caller::fhir_caller, outcome::FHIR_JSON, outcome::Outcome, path_id};
use crate::{AppState, csrf::Intent, http::records::denial_status};
use axum::{
    body::Body,
    extract::{Path, Query, State},
    http::{HeaderMap, HeaderValue, header},
    response::{IntoResponse, Response},
};
use base64::{Engine as _, engine::general_purpose::STANDARD};
use bytes::Bytes;
use commands::records::ContentError;
use domain::record::{ReadAction, RecordId};
use futures::{StreamExt as _, TryStreamExt as _};
use serde::Deserialize;

#[derive(Debug, Default, Deserialize)]
pub struct Format {
    #[serde(rename = "_format")]
    format: Option<String>,
}

fn wants_fhir_json(headers: &HeaderMap, format: &Format) -> bool {
    let named = |v: &str| v.contains("fhir+json") || v == "json" || v.contains("application/json");
    format.format.as_deref().is_some_and(named)
        || headers
            .get(header::ACCEPT)
            .and_then(|v| v.to_str().ok())
            .is_some_and(|v| v.contains("fhir+json"))
}

pub async fn read(
    State(state): State<AppState>,
    headers: HeaderMap,
    Path(id): Path<String>,
    Query(format): Query<Format>,
) -> Response {
    let caller = match fhir_caller(&state, &headers, Intent::RecordedRead).await {
        Ok(c) => c,
        Err(o) => return o.into_response(),
    };
    let id = match path_id(&id, "binary") {
        Ok(id) => id,
        Err(o) => return o.into_response(),
    };
    let content = match state
        .services
        .records
        .open_content(&caller, RecordId::from_uuid(id), ReadAction::Downloaded)
        .await
    {
        Ok(content) => content,
        Err(ContentError::Denied(denial)) => {
            let (status, code) = denial_status(denial);
            return Outcome::with_status(status, code, denial.to_string()).into_response();
        }
        Err(ContentError::Command(e)) => return Outcome::from(e).into_response(),
        Err(e @ ContentError::Unavailable) => {
            return Outcome::with_status(
                axum::http::StatusCode::SERVICE_UNAVAILABLE,
                crate::error::Code::Internal,
                e.to_string(),
            )
            .into_response();
        }
    };
    if !wants_fhir_json(&headers, &format) {
        return crate::http::records::respond(&state, content, false, "");
    }
    let receipt = domain::ledger::receipt::promise_header(
        content.seq,
        &content.hash,
        state.services.ledger_key.signing_key(),
    );
    let head = serde_json::json!({
        "resourceType": "Binary",
        "id": id.to_string(),
        "contentType": content.content_type,
    })
    .to_string();
    // `{"resourceType":…,"contentType":…` then `,"data":"<base64>"}`.
    let opening = Bytes::from(format!(
        "{},\"data\":\"",
        head.strip_suffix('}').unwrap_or(&head)
    ));
    let data = base64_stream(content.body.map_err(std::io::Error::other));
    let body = futures::stream::once(async move { Ok(opening) })
        .chain(data)
        .chain(futures::stream::once(async {
            Ok(Bytes::from_static(b"\"}"))
        }));
    let mut response = Response::new(Body::from_stream(body));
    let h = response.headers_mut();
    h.insert(header::CONTENT_TYPE, HeaderValue::from_static(FHIR_JSON));
    if let Ok(receipt) = HeaderValue::from_str(&receipt) {
        h.insert("medchain-receipt", receipt);
    }
    crate::http::rest::private_content(h);
    response
}

/// Base64 of a byte stream, chunk by chunk: each chunk's whole 3-byte groups are encoded
/// at once and the 0–2 bytes left over carried into the next, so the output is exactly
/// the encoding of the whole.
fn base64_stream(
    input: impl futures::Stream<Item = Result<Bytes, std::io::Error>> + Send + 'static,
) -> impl futures::Stream<Item = Result<Bytes, std::io::Error>> + Send + 'static {
    let carry: Vec<u8> = Vec::new();
    futures::stream::unfold(
        (Box::pin(input), carry, false),
        |(mut input, mut carry, done)| async move {
            if done {
                return None;
            }
            match input.next().await {
                Some(Ok(chunk)) => {
                    carry.extend_from_slice(&chunk);
                    let whole = carry.len() / 3 * 3;
                    let encoded = STANDARD.encode(&carry[..whole]);
                    carry.drain(..whole);
                    Some((Ok(Bytes::from(encoded)), (input, carry, false)))
                }
                Some(Err(e)) => Some((Err(e), (input, carry, true))),
                None => {
                    let last = STANDARD.encode(&carry);
                    Some((Ok(Bytes::from(last)), (input, Vec::new(), true)))
                }
            }
        },
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn streamed_base64_is_the_encoding_of_the_whole_however_it_is_cut() {
        let data: Vec<u8> = (0..1000u32).map(|i| (i * 7 % 251) as u8).collect();
        for cut in [1, 2, 3, 4, 5, 64, 999, 1000] {
            let chunks: Vec<Result<Bytes, std::io::Error>> = data
                .chunks(cut)
                .map(|c| Ok(Bytes::copy_from_slice(c)))
                .collect();
            let out: Vec<Bytes> = base64_stream(futures::stream::iter(chunks))
                .try_collect()
                .await
                .unwrap();
            let joined: Vec<u8> = out.concat();
            assert_eq!(
                String::from_utf8(joined).unwrap(),
                STANDARD.encode(&data),
                "cut {cut}"
            );
        }
    }
}
