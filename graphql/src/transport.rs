//! HTTP for GraphQL: `POST /graphql` runs one JSON operation (a batch is refused, GET runs
//! nothing), `GET /graphql` serves GraphiQL, `GET /graphql/ws` upgrades to
//! graphql-transport-ws after checking the browser's `Origin`, and authenticates in
//! `connection_init`.

use crate::{
    AppState,
    auth::{AuthError, authenticate, token_from},
    context::{Auth, ClientInfo},
    error::{Code, add_missing_codes},
    limits::MAX_BODY_BYTES,
};
use async_graphql::http::{ALL_WEBSOCKET_PROTOCOLS, GraphiQLSource};
use async_graphql_axum::{GraphQLProtocol, GraphQLWebSocket};
use axum::extract::ws::{CloseFrame, Message};
use axum::{
    Json,
    body::Body,
    extract::{ConnectInfo, State, WebSocketUpgrade},
    http::{HeaderMap, HeaderValue, StatusCode, header},
    response::{Html, IntoResponse, Response},
};
use commands::accounts::Accounts;
use futures::{SinkExt as _, StreamExt as _};
use serde_json::{Value, json};
use std::net::{IpAddr, SocketAddr};
use std::time::Duration;
use tokio::sync::watch;
use uuid::Uuid;

pub async fn graphiql() -> Html<String> {
    Html(
        GraphiQLSource::build()
            .endpoint("/graphql")
            .subscription_endpoint("/graphql/ws")
            .finish(),
    )
}

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
    let auth = match token_from(&headers) {
        Ok(token) => authenticate(&state.services, token).await,
        Err(e) => Err(e),
    };
    let auth = match auth {
        Ok(auth) => auth,
        Err(AuthError::Refused(message)) => {
            return refusal(StatusCode::OK, Code::Unauthenticated, message);
        }
        Err(e @ (AuthError::Command(_) | AuthError::Read(_))) => {
            tracing::error!(error = %e, "authentication failed");
            return refusal(
                StatusCode::INTERNAL_SERVER_ERROR,
                Code::Internal,
                "internal error",
            );
        }
    };
    let client = ClientInfo {
        address: Some(client_address(&state, &headers, peer)),
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

/// The peer's address, or the first `X-Forwarded-For` hop when the proxy is trusted.
fn client_address(state: &AppState, headers: &HeaderMap, peer: SocketAddr) -> IpAddr {
    if state.http.trust_proxy
        && let Some(forwarded) = headers
            .get("x-forwarded-for")
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.split(',').next())
            .and_then(|v| v.trim().parse().ok())
    {
        return forwarded;
    }
    peer.ip()
}

pub async fn websocket(
    State(state): State<AppState>,
    headers: HeaderMap,
    protocol: GraphQLProtocol,
    upgrade: WebSocketUpgrade,
) -> Response {
    if let Some(origin) = headers.get(header::ORIGIN) {
        let allowed = origin.to_str().is_ok_and(|o| o == state.http.public_origin);
        if !allowed {
            return refusal(
                StatusCode::FORBIDDEN,
                Code::Forbidden,
                "subscriptions are only accepted from the app's own origin",
            );
        }
    }
    let cookie_token = token_from(&headers).ok().flatten().map(str::to_owned);
    let schema = state.schema.clone();
    let services = state.services.clone();
    upgrade
        .protocols(ALL_WEBSOCKET_PROTOCOLS)
        .on_upgrade(move |socket| async move {
            // The session the connection signs in with, once connection_init has run.
            let (signed_in, session) = watch::channel(None::<Uuid>);
            let accounts = services.accounts.clone();
            // graphql-transport-ws says a refused connection_init closes with 4403
            // Forbidden; async-graphql closes with 1002, so the code is set on the way out.
            let (sink, stream) = socket.split();
            let sink = sink.with(|message: Message| async move {
                Ok::<_, axum::Error>(match message {
                    Message::Close(Some(frame))
                        if frame.code == 1002 && frame.reason.starts_with("UNAUTHENTICATED") =>
                    {
                        Message::Close(Some(CloseFrame {
                            code: 4403,
                            reason: frame.reason,
                        }))
                    }
                    other => other,
                })
            });
            let connection = GraphQLWebSocket::new_with_pair(sink, stream, schema, protocol)
                .on_connection_init(move |payload| async move {
                    let token = payload
                        .get("token")
                        .and_then(Value::as_str)
                        .map(str::to_owned)
                        .or(cookie_token);
                    match authenticate(&services, token.as_deref()).await {
                        Ok(Auth::User(caller, view)) => {
                            let _ = signed_in.send(Some(caller.session));
                            let mut data = async_graphql::Data::default();
                            data.insert(Auth::User(caller, view));
                            Ok(data)
                        }
                        Ok(Auth::Anonymous) => Err(async_graphql::Error::new(
                            "UNAUTHENTICATED: subscriptions need a session token",
                        )),
                        Err(e) => Err(async_graphql::Error::new(format!("UNAUTHENTICATED: {e}"))),
                    }
                })
                .serve();
            tokio::select! {
                () = connection => {}
                () = session_ends(accounts, session) => {
                    // Dropping the connection closes the socket.
                    tracing::info!("subscription connection closed: its session ended");
                }
            }
        })
}

/// How often an open subscription connection checks that its session still stands
/// (revoked by logout, a password change, suspension or erasure, in any process).
const SESSION_CHECK: Duration = Duration::from_secs(1);

/// Completes when the connection's session is no longer live.
async fn session_ends(accounts: Accounts, mut session: watch::Receiver<Option<Uuid>>) {
    let id = loop {
        if let Some(id) = *session.borrow_and_update() {
            break id;
        }
        if session.changed().await.is_err() {
            return std::future::pending().await;
        }
    };
    loop {
        tokio::time::sleep(SESSION_CHECK).await;
        match accounts.session_is_live(id).await {
            Ok(true) => {}
            Ok(false) => return,
            Err(e) => tracing::warn!(error = %e, "could not check a subscription's session"),
        }
    }
}
