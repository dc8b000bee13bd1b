//! HTTP for GraphQL: `POST /graphql` runs one JSON operation (a batch is refused, GET runs
//! nothing; a cookie-authenticated one from another site is refused, `csrf`), `GET
//! /graphql` serves GraphiQL. The subscription socket is `socket`.

use crate::{
    AppState,
    auth::{AuthError, authenticate, credential},
    context::{Auth, ClientInfo},
    csrf::{self, Intent},
    error::{Code, add_missing_codes},
    limits::{MAX_BODY_BYTES, NoIntrospection},
};
use axum::{
    Json,
    body::Body,
    extract::{ConnectInfo, State},
    http::{HeaderMap, HeaderValue, StatusCode, header},
    response::{IntoResponse, Response},
};
use serde_json::json;
use std::net::SocketAddr;

fn refusal(status: StatusCode, code: Code, message: &str) -> Response {
    (
        status,
        Json(json!({"errors": [{"message": message, "extensions": {"code": code.as_str()}}]})),
    )
        .into_response()
}

pub async fn post(
    State(state): State<AppState>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    body: Body,
) -> Response {
    let json_body = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|ct| ct.trim_start().starts_with("application/json"));
    if !json_body {
        return refusal(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            Code::BadUserInput,
            "send the operation as a JSON body (Content-Type: application/json)",
        );
    }
    let Ok(body) = axum::body::to_bytes(body, MAX_BODY_BYTES).await else {
        return refusal(
            StatusCode::PAYLOAD_TOO_LARGE,
            Code::BadUserInput,
            &format!("the request body is larger than {MAX_BODY_BYTES} bytes"),
        );
    };
    // A batch is a JSON array: refused by its first byte, before any parsing.
    if body.iter().find(|b| !b.is_ascii_whitespace()) == Some(&b'[') {
        return refusal(
            StatusCode::BAD_REQUEST,
            Code::BadUserInput,
            "batched operations are not accepted: send one operation per request",
        );
    }
    let request: async_graphql::Request = match serde_json::from_slice(&body) {
        Ok(r) => r,
        Err(_) => {
            return refusal(
                StatusCode::BAD_REQUEST,
                Code::BadUserInput,
                "the body is not a GraphQL request: a JSON object {\"query\", \"variables\", \"operationName\"}",
            );
        }
    };
    let found = match credential(&headers, state.services.secure_cookies) {
        Ok(found) => found,
        Err(e) => return refusal(StatusCode::OK, Code::Unauthenticated, &e.to_string()),
    };
    if found.is_some_and(|c| c.by_cookie)
        && !csrf::allowed(&headers, &state.http.own_origins(), Intent::Change)
    {
        return refusal(StatusCode::FORBIDDEN, Code::Forbidden, csrf::REFUSED);
    }
    let by_cookie = found.is_some_and(|c| c.by_cookie);
    let auth = authenticate(&state.services, found.map(|c| c.token)).await;
    let auth = match auth {
        Ok(auth) => auth,
        Err(AuthError::Refused(message)) => {
            let mut refused = refusal(StatusCode::OK, Code::Unauthenticated, message);
            // A cookie whose session ended (revoked elsewhere, reset, expired) is dropped
            // with this answer: the browser's next request, a sign-in, goes without it.
            if by_cookie
                && let Ok(clear) = axum::http::HeaderValue::from_str(&crate::session_cookie::clear(
                    state.services.secure_cookies,
                ))
            {
                refused.headers_mut().insert(header::SET_COOKIE, clear);
            }
            return refused;
        }
        Err(e @ (AuthError::Command(_) | AuthError::Read(_))) => {
            let (code, message) = crate::error::log_internal(&e);
            let mut refused = refusal(code.status(), code, &message);
            code.mark(refused.headers_mut());
            return refused;
        }
    };
    // A query reads a replica that has caught up with the primary, when there is one.
    let mut request = request;
    let replica = match &state.services.replicas {
        Some(replicas) if only_queries(&mut request) => {
            replicas.caught_up(&state.services.pool).await
        }
        _ => None,
    };
    let mut request = match replica {
        Some(pool) => {
            let services = crate::context::Services {
                pool,
                ..state.services.clone()
            };
            request
                .data(crate::loaders::for_request(&services))
                .data(services)
        }
        None => request.data(crate::loaders::for_request(&state.services)),
    };
    if matches!(auth, Auth::Anonymous) && !state.http.dev_tools {
        request = request.data(NoIntrospection);
    }
    let client = ClientInfo {
        address: Some(state.http.trusted_proxies.client(peer.ip(), &headers)),
        user_agent: headers
            .get(header::USER_AGENT)
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned),
    };
    let mut response = state.schema.execute(request.data(auth).data(client)).await;
    add_missing_codes(&mut response);
    let mut http = Json(&response).into_response();
    for (name, value) in response.http_headers.iter() {
        http.headers_mut().append(name, value.clone());
    }
    http.headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    http
}

/// Whether every operation in the request is a query (nothing written): what may be
/// answered from a replica. A request that does not parse is left to the primary, whose
/// answer is its error.
fn only_queries(request: &mut async_graphql::Request) -> bool {
    request.parsed_query().is_ok_and(|document| {
        document
            .operations
            .iter()
            .all(|(_, op)| op.node.ty == async_graphql::parser::types::OperationType::Query)
    })
}
