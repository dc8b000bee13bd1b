//! The share link routes (API.graphql): `POST /api/links/{id}/open` with the passcode,
//! which answers a token for 15 minutes and what the link shares, and
//! `GET /api/links/{id}/records/{recordId}/content` with that token as a Bearer, which
//! works only under its own link. Nobody signs in: the token is the only credential, and
//! the session cookie means nothing here.

use crate::{
    AppState,
    error::Code,
    http::records::{content_error, respond},
    http::rest::{command_error, error},
};
use axum::{
    Json,
    extract::{ConnectInfo, Path, Query, State},
    http::{HeaderMap, StatusCode, header},
    response::{IntoResponse, Response},
};
use commands::accounts::SessionToken;
use commands::links::OpenError;
use domain::link::{LinkDenial, LinkId};
use domain::record::{ReadAction, RecordId};
use serde::Deserialize;
use serde_json::json;
use std::net::SocketAddr;
use uuid::Uuid;

#[derive(Deserialize)]
pub struct OpenBody {
    passcode: String,
}

fn link_id(raw: &str) -> Option<LinkId> {
    Uuid::try_parse(raw).ok().map(LinkId::from_uuid)
}

fn not_a_link() -> Response {
    error(
        StatusCode::BAD_REQUEST,
        Code::BadUserInput,
        "the link in the path is not a UUID",
    )
}

fn denied(denial: LinkDenial) -> Response {
    let (status, code) = match denial {
        LinkDenial::NotFound | LinkDenial::NotInLink => (StatusCode::NOT_FOUND, Code::NotFound),
        LinkDenial::Gone => (StatusCode::GONE, Code::NotFound),
        LinkDenial::Locked => (StatusCode::TOO_MANY_REQUESTS, Code::RateLimited),
        LinkDenial::WrongPasscode => (StatusCode::FORBIDDEN, Code::Forbidden),
        LinkDenial::GrantEnded => (StatusCode::UNAUTHORIZED, Code::Unauthenticated),
    };
    error(status, code, &denial.to_string())
}

pub async fn open(
    State(state): State<AppState>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    Path(raw): Path<String>,
    body: Result<Json<OpenBody>, axum::extract::rejection::JsonRejection>,
) -> Response {
    let Some(id) = link_id(&raw) else {
        return not_a_link();
    };
    let Ok(Json(body)) = body else {
        return error(
            StatusCode::BAD_REQUEST,
            Code::BadUserInput,
            "send {\"passcode\": \"…\"} as JSON",
        );
    };
    let from = state.http.trusted_proxies.client(peer.ip(), &headers);
    let links = &state.services.links;
    let opened = match links.open(id, &body.passcode, Some(from)).await {
        Ok(opened) => opened,
        Err(OpenError::Denied(denial)) => return denied(denial),
        Err(OpenError::Command(e)) => return command_error(e),
    };
    // What the link shares, with the titles the records' keys open: the recipient reads
    // these now, and may only through this link.
    let s = &state.services;
    let mut records = Vec::new();
    for record in &opened.records {
        let view = match projections::records::find(&s.pool, &s.keys, *record).await {
            Ok(Some(view)) if !view.erased => view,
            Ok(_) => continue,
            Err(e) => {
                tracing::error!(error = %e, "a linked record could not be read from the view");
                continue;
            }
        };
        let Ok(Some(medical)) = view.medical() else {
            continue;
        };
        records.push(json!({
            "id": record.as_uuid(),
            "title": medical.title,
            "fileName": medical.file_name,
            "contentType": view.content_type,
            "size": view.size,
        }));
    }
    let mut response = Json(json!({
        "token": opened.token.expose(),
        "expiresAt": opened.expires_at.to_string(),
        "records": records,
    }))
    .into_response();
    crate::http::rest::private_content(response.headers_mut());
    response
}

#[derive(Deserialize)]
pub struct ContentQuery {
    inline: Option<String>,
}

pub async fn content(
    State(state): State<AppState>,
    headers: HeaderMap,
    Path((raw_link, raw_record)): Path<(String, String)>,
    Query(query): Query<ContentQuery>,
) -> Response {
    let began = std::time::Instant::now();
    let Some(id) = link_id(&raw_link) else {
        return not_a_link();
    };
    let Ok(record) = Uuid::try_parse(&raw_record).map(RecordId::from_uuid) else {
        return error(
            StatusCode::BAD_REQUEST,
            Code::BadUserInput,
            "the record in the path is not a UUID",
        );
    };
    let unauthenticated = |m: &str| error(StatusCode::UNAUTHORIZED, Code::Unauthenticated, m);
    let bearer = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "));
    let Some(token) = bearer.and_then(|t| SessionToken::parse(t.trim()).ok()) else {
        return unauthenticated("send the link's token as Authorization: Bearer <token>");
    };
    let reads = match state.services.links.grant_reads(id, &token, record).await {
        Ok(Some(reads)) => reads,
        Ok(None) => {
            return unauthenticated("this token is unknown here, or its 15 minutes are over");
        }
        Err(e) => return command_error(e),
    };
    let inline = query.inline.is_some_and(|v| v == "1" || v == "true");
    let action = if inline {
        ReadAction::Viewed
    } else {
        ReadAction::Downloaded
    };
    let opened = std::time::Instant::now();
    let content = match state
        .services
        .records
        .open_content_via_link(id, reads, record, action)
        .await
    {
        Ok(content) => content,
        Err(e) => return content_error(e),
    };
    let timing = format!(
        "auth;dur={:.3}, open;dur={:.3}",
        (opened - began).as_secs_f64() * 1000.0,
        opened.elapsed().as_secs_f64() * 1000.0
    );
    respond(&state, content, inline, &timing)
}
