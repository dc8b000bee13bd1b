//! What the HTTP routes beside `/graphql` share (`photos`, `records`): the error body of
//! API.graphql (`{"error":{"code","message"}}`), a command's error mapped by the same
//! function GraphQL uses, the signed-in caller from the same credentials, and the headers
//! of private content.

use crate::{
    AppState,
    auth::{AuthError, authenticate, token_from},
    context::Auth,
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
    (
        status,
        Json(json!({"error": {"code": code.as_str(), "message": message}})),
    )
        .into_response()
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

/// The signed-in caller, or the response that refuses the request.
pub(crate) async fn caller(state: &AppState, headers: &HeaderMap) -> Result<Caller, Response> {
    let unauthenticated = |m: &str| error(StatusCode::UNAUTHORIZED, Code::Unauthenticated, m);
    let token = token_from(headers).map_err(|e| unauthenticated(&e.to_string()))?;
    match authenticate(&state.services, token).await {
        Ok(Auth::User(caller, _)) => Ok(caller),
        Ok(Auth::Anonymous) => Err(unauthenticated("sign in first")),
        Err(AuthError::Refused(m)) => Err(unauthenticated(m)),
        Err(e) => {
            tracing::error!(error = %e, "authentication failed");
            Err(error(
                StatusCode::INTERNAL_SERVER_ERROR,
                Code::Internal,
                "internal error",
            ))
        }
    }
}
