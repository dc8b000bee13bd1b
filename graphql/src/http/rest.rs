//! What the HTTP routes beside `/graphql` share (`photos`, `records`): the error body of
//! API.graphql (`{"error":{"code","message"}}`), a command's error mapped by the same
//! function GraphQL uses, the signed-in caller from the same credentials, and the headers
//! of private content.

use crate::{
    AppState,
    auth::{AuthError, authenticate, credential},
    context::Auth,
    csrf::{self, Intent},
    error::{Code, classify},
};
use axum::{
    Json,
    http::{HeaderMap, HeaderValue, StatusCode, header},
    response::{IntoResponse, Response},
};
use commands::{Caller, CommandError};
use serde_json::json;

pub fn error(status: StatusCode, code: Code, message: &str) -> Response {
    let mut response = (
        status,
        Json(json!({"error": {"code": code.as_str(), "message": message}})),
    )
        .into_response();
    code.mark(response.headers_mut());
    response
}

/// A command's error as the routes answer it: the code and message of the one mapping
/// (`error::classify`), with that code's status.
pub(crate) fn command_error(e: CommandError) -> Response {
    let (code, message) = classify(e);
    error(code.status(), code, &message)
}

/// What every response carrying personal or medical bytes says: never sniff another
/// type from them, never keep them in a shared cache.
pub(crate) fn private_content(h: &mut HeaderMap) {
    h.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    h.insert(
        header::CACHE_CONTROL,
        HeaderValue::from_static("private, no-store"),
    );
}

/// The signed-in caller, or the response that refuses the request: also when the browser
/// sent the cookie from another site for what `intent` says the route does (`csrf`).
pub(crate) async fn caller(
    state: &AppState,
    headers: &HeaderMap,
    intent: Intent,
) -> Result<Caller, Response> {
    signed_in(state, headers, intent)
        .await
        .map_err(|(code, message)| error(code.status(), code, &message))
}

/// The rule behind `caller`, for routes that answer refusals in another shape (FHIR's
/// OperationOutcome): the caller, or the code and message that refuse them.
pub(crate) async fn signed_in(
    state: &AppState,
    headers: &HeaderMap,
    intent: Intent,
) -> Result<Caller, (Code, String)> {
    let unauthenticated = |m: &str| (Code::Unauthenticated, m.to_owned());
    let found = credential(headers, state.services.secure_cookies)
        .map_err(|e| unauthenticated(&e.to_string()))?;
    if let Some(found) = found
        && found.by_cookie
        && !csrf::allowed(headers, &state.http.own_origins(), intent)
    {
        return Err((Code::Forbidden, csrf::REFUSED.to_owned()));
    }
    match authenticate(&state.services, found.map(|c| c.token)).await {
        Ok(Auth::User(caller, _)) => Ok(caller),
        Ok(Auth::Enrolling(..)) => Err((Code::Forbidden, crate::context::ENROL_FIRST.to_owned())),
        Ok(Auth::Anonymous) => Err(unauthenticated("sign in first")),
        Err(AuthError::Refused(m)) => Err(unauthenticated(m)),
        Err(e) => Err(crate::error::log_internal(&e)),
    }
}

/// A record's or a person's id in a URL path. A malformed one is refused with the JSON
/// error body (400 BAD_USER_INPUT) rather than axum's plain-text rejection.
pub(crate) struct PathId(pub uuid::Uuid);

impl<S: Send + Sync> axum::extract::FromRequestParts<S> for PathId {
    type Rejection = Response;

    async fn from_request_parts(
        parts: &mut axum::http::request::Parts,
        state: &S,
    ) -> Result<Self, Self::Rejection> {
        let axum::extract::Path(raw) =
            axum::extract::Path::<String>::from_request_parts(parts, state)
                .await
                .map_err(|_| {
                    error(
                        StatusCode::BAD_REQUEST,
                        Code::BadUserInput,
                        "the path does not name an id",
                    )
                })?;
        raw.parse().map(PathId).map_err(|_| {
            error(
                StatusCode::BAD_REQUEST,
                Code::BadUserInput,
                "the id in the path is not a UUID",
            )
        })
    }
}
