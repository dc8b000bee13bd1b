//! The photo routes beside `/graphql` (API.graphql): `PUT /api/me/photo` and
//! `GET /api/users/{id}/photo` (the user, administrators, and people who share a record
//! with them). Same credentials as the API; errors are
//! `{"error":{"code","message"}}` with the contract's statuses.

use crate::{
    AppState,
    csrf::Intent,
    error::Code,
    http::rest::{PathId, caller, command_error, error, private_content},
};
use axum::{
    Json,
    body::Body,
    extract::State,
    http::{HeaderMap, HeaderValue, StatusCode, header},
    response::{IntoResponse, Response},
};
use commands::accounts::photo::{MAX_PHOTO_BYTES, PhotoRefused, normalise_bounded};
use domain::account::UserId;
use serde_json::json;

pub async fn put_photo(State(state): State<AppState>, headers: HeaderMap, body: Body) -> Response {
    let caller = match caller(&state, &headers, Intent::Change).await {
        Ok(c) => c,
        Err(r) => return r,
    };
    let Ok(bytes) = axum::body::to_bytes(body, MAX_PHOTO_BYTES).await else {
        return error(
            StatusCode::PAYLOAD_TOO_LARGE,
            Code::BadUserInput,
            "a profile photo is at most 2 MiB",
        );
    };
    let png = match normalise_bounded(bytes).await {
        Ok(png) => png,
        Err(refused @ PhotoRefused::NotPngOrJpeg) => {
            return error(
                StatusCode::UNSUPPORTED_MEDIA_TYPE,
                Code::BadUserInput,
                &refused.to_string(),
            );
        }
        Err(refused) => {
            return error(
                StatusCode::BAD_REQUEST,
                Code::BadUserInput,
                &refused.to_string(),
            );
        }
    };
    let seq = match state.services.accounts.set_photo(&caller, png).await {
        Ok(seq) => seq,
        Err(e) => return command_error(e),
    };
    if let Err(e) = state
        .services
        .projections
        .wait_for(&["users"], seq, crate::context::READ_YOUR_WRITES)
        .await
    {
        tracing::warn!(error = %e, "photo stored; the users view is late");
    }
    let url = format!("/api/users/{}/photo", caller.user);
    (StatusCode::OK, Json(json!({"photoUrl": url, "seq": seq}))).into_response()
}

pub async fn get_photo(
    State(state): State<AppState>,
    headers: HeaderMap,
    PathId(id): PathId,
) -> Response {
    let caller = match caller(&state, &headers, Intent::Read).await {
        Ok(c) => c,
        Err(r) => return r,
    };
    let s = &state.services;
    let person = UserId::from_uuid(id);
    let share_a_record = caller.user != person
        && projections::records::share_a_record(&s.pool, caller.user, person, s.clock.now())
            .await
            .unwrap_or_else(|e| {
                tracing::error!(error = %e, "reading the shares view failed");
                false
            });
    match s.accounts.photo(&caller, person, share_a_record).await {
        Ok(Some(png)) => {
            let mut response = png.into_response();
            let h = response.headers_mut();
            h.insert(header::CONTENT_TYPE, HeaderValue::from_static("image/png"));
            private_content(h);
            response
        }
        Ok(None) => error(
            StatusCode::NOT_FOUND,
            Code::NotFound,
            "there is no such photo",
        ),
        Err(e) => command_error(e),
    }
}
