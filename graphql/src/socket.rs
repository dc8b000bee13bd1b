//! `GET /graphql/ws`: subscriptions over graphql-transport-ws, after checking the
//! browser's `Origin`; the socket authenticates in `connection_init` (a browser cannot set
//! headers on a WebSocket).
//!
//! What a socket may cost is bounded: `connection_init` within `INIT_WITHIN` or the socket
//! closes (4408); at most `MAX_OPERATIONS` subscribe messages in its life (then 4429);
//! at most `MAX_SOCKETS_PER_SESSION` open sockets per session in a process (a further
//! `connection_init` is refused: 4429); messages up to `MAX_BODY_BYTES`. It carries
//! subscriptions only (`limits::DocumentLimits`), so signing in and every other mutation
//! go through POST /graphql, with its address limits and body cap. An open socket checks
//! its session every second and closes when it ends.
//!
//! The loop is written here rather than with async-graphql-axum's `serve`, which has no
//! way to close on a timer or a count with a code of its own.

use crate::{
    AppState,
    auth::{Credential, authenticate, credential},
    context::Auth,
    error::Code,
    limits::{MAX_BODY_BYTES, OverSocket},
};
use async_graphql::http::{
    ALL_WEBSOCKET_PROTOCOLS, WebSocket as Protocol, WebSocketProtocols, WsMessage,
};
use axum::{
    Json,
    extract::{
        State, WebSocketUpgrade,
        ws::{CloseFrame, Message, WebSocket},
    },
    http::{HeaderMap, StatusCode, header},
    response::{IntoResponse, Response},
};
use commands::accounts::Accounts;
use futures::{SinkExt as _, StreamExt as _};
use serde_json::{Value, json};
use std::{
    collections::HashMap,
    sync::{Arc, Mutex},
    time::Duration,
};
use tokio::sync::{mpsc, watch};
use tokio_stream::wrappers::ReceiverStream;
use uuid::Uuid;

pub const INIT_WITHIN: Duration = Duration::from_secs(10);
pub const MAX_OPERATIONS: usize = 100;
pub const MAX_SOCKETS_PER_SESSION: usize = 8;
/// How often an open socket checks that its session still stands (revoked by logout, a
/// password change, suspension or erasure, in any process).
const SESSION_CHECK: Duration = Duration::from_secs(1);

/// Open sockets per session, in this process.
#[derive(Clone, Default)]
pub struct OpenSockets(Arc<Mutex<HashMap<Uuid, usize>>>);

impl OpenSockets {
    fn open(&self, session: Uuid) -> bool {
        let mut open = self.0.lock().expect("never poisoned");
        let n = open.entry(session).or_default();
        if *n >= MAX_SOCKETS_PER_SESSION {
            return false;
        }
        *n += 1;
        true
    }

    fn close(&self, session: Uuid) {
        let mut open = self.0.lock().expect("never poisoned");
        if let Some(n) = open.get_mut(&session) {
            *n -= 1;
            if *n == 0 {
                open.remove(&session);
            }
        }
    }
}

pub async fn websocket(
    State(state): State<AppState>,
    headers: HeaderMap,
    upgrade: WebSocketUpgrade,
) -> Response {
    let Some(protocol) = headers
        .get(header::SEC_WEBSOCKET_PROTOCOL)
        .and_then(|v| v.to_str().ok())
        .and_then(|offered| {
            offered
                .split(',')
                .find_map(|p| p.trim().parse::<WebSocketProtocols>().ok())
        })
    else {
        let body = json!({"errors": [{
            "message": "ask for the graphql-transport-ws subprotocol",
            "extensions": {"code": Code::BadUserInput.as_str()},
        }]});
        return (StatusCode::BAD_REQUEST, Json(body)).into_response();
    };
    if let Some(origin) = headers.get(header::ORIGIN) {
        let own = state.http.own_origins();
        let allowed = origin
            .to_str()
            .is_ok_and(|o| own.iter().any(|own| own == o));
        if !allowed {
            let body = json!({"errors": [{
                "message": "subscriptions are only accepted from the app's own origin",
                "extensions": {"code": Code::Forbidden.as_str()},
            }]});
            return (StatusCode::FORBIDDEN, Json(body)).into_response();
        }
    }
    let cookie_token = credential(&headers, state.services.secure_cookies)
        .ok()
        .flatten()
        .map(|Credential { token, .. }| token.to_owned());
    upgrade
        .protocols(ALL_WEBSOCKET_PROTOCOLS)
        .max_message_size(MAX_BODY_BYTES)
        .max_frame_size(MAX_BODY_BYTES)
        .on_upgrade(move |socket| serve(state, socket, protocol, cookie_token))
}

/// Why the server closes a socket, with graphql-transport-ws's codes.
fn close(code: u16, reason: &str) -> Message {
    Message::Close(Some(CloseFrame {
        code,
        reason: reason.into(),
    }))
}

async fn serve(
    state: AppState,
    socket: WebSocket,
    protocol: WebSocketProtocols,
    cookie_token: Option<String>,
) {
    let services = state.services.clone();
    let sockets = state.sockets.clone();
    // The session the connection signs in with, once connection_init has run.
    let (signed_in, mut session) = watch::channel(None::<Uuid>);
    let (mut sink, mut incoming) = socket.split();
    let (to_protocol, from_client) = mpsc::channel::<Vec<u8>>(16);
    let init_sockets = sockets.clone();
    let mut outgoing = Protocol::new(
        state.schema.clone(),
        ReceiverStream::new(from_client),
        protocol,
    )
    .on_connection_init(move |payload: Value| async move {
        let token = payload
            .get("token")
            .and_then(Value::as_str)
            .map(str::to_owned)
            .or(cookie_token);
        match authenticate(&services, token.as_deref()).await {
            Ok(Auth::User(caller, view)) => {
                if !init_sockets.open(caller.session) {
                    return Err(async_graphql::Error::new(format!(
                        "RATE_LIMITED: at most {MAX_SOCKETS_PER_SESSION} sockets per session"
                    )));
                }
                let _ = signed_in.send(Some(caller.session));
                let mut data = async_graphql::Data::default();
                data.insert(Auth::User(caller, view));
                data.insert(OverSocket);
                data.insert(crate::loaders::for_request(&services));
                Ok(data)
            }
            Ok(Auth::Anonymous) => Err(async_graphql::Error::new(
                "UNAUTHENTICATED: subscriptions need a session token",
            )),
            Ok(Auth::Enrolling(..)) => Err(async_graphql::Error::new(format!(
                "FORBIDDEN: {}",
                crate::context::ENROL_FIRST
            ))),
            Err(e) => Err(async_graphql::Error::new(format!("UNAUTHENTICATED: {e}"))),
        }
    });
    let init_deadline = tokio::time::sleep(INIT_WITHIN);
    tokio::pin!(init_deadline);
    let mut initialised = false;
    let mut operations = 0usize;
    let session_ended = session_ends(state.services.accounts.clone(), session.clone());
    tokio::pin!(session_ended);
    // A message read from the client and not yet handed to the protocol: while there is
    // one, the socket is not read (backpressure), and the protocol's answers go on being
    // sent, so a client that floods cannot stall the loop on a full channel.
    let mut pending: Option<Vec<u8>> = None;
    loop {
        tokio::select! {
            permit = to_protocol.reserve(), if pending.is_some() => {
                let Ok(permit) = permit else { break };
                if let Some(bytes) = pending.take() {
                    permit.send(bytes);
                }
            }
            message = incoming.next(), if pending.is_none() => {
                let Some(Ok(message)) = message else { break };
                let bytes = match message {
                    Message::Text(text) => text.as_bytes().to_vec(),
                    Message::Binary(bytes) => bytes.to_vec(),
                    Message::Close(_) => break,
                    Message::Ping(_) | Message::Pong(_) => continue,
                };
                match message_type(&bytes).as_deref() {
                    Some("connection_init") => initialised = true,
                    Some("subscribe" | "start") => {
                        operations += 1;
                        if operations > MAX_OPERATIONS {
                            let reason = format!("at most {MAX_OPERATIONS} operations a socket");
                            let _ = sink.send(close(4429, &reason)).await;
                            break;
                        }
                    }
                    _ => {}
                }
                pending = Some(bytes);
            }
            message = outgoing.next() => {
                let Some(message) = message else { break };
                let message = match message {
                    WsMessage::Text(text) => Message::Text(text.into()),
                    // graphql-transport-ws says a refused connection_init closes with
                    // 4403; async-graphql says 1002 with the callback's message.
                    WsMessage::Close(1002, reason) if reason.starts_with("UNAUTHENTICATED") => {
                        close(4403, &reason)
                    }
                    WsMessage::Close(1002, reason) if reason.starts_with("RATE_LIMITED") => {
                        close(4429, &reason)
                    }
                    WsMessage::Close(code, reason) => close(code, &reason),
                };
                if sink.send(message).await.is_err() {
                    break;
                }
            }
            () = &mut init_deadline, if !initialised => {
                let _ = sink.send(close(4408, "connection_init did not come in time")).await;
                break;
            }
            () = &mut session_ended => {
                tracing::info!("subscription connection closed: its session ended");
                let _ = sink.send(close(4401, "the session has ended")).await;
                break;
            }
        }
    }
    if let Some(id) = *session.borrow_and_update() {
        sockets.close(id);
    }
}

/// The `type` of a protocol message, if it is JSON with one.
fn message_type(bytes: &[u8]) -> Option<String> {
    #[derive(serde::Deserialize)]
    struct Typed {
        #[serde(rename = "type")]
        ty: String,
    }
    serde_json::from_slice::<Typed>(bytes).ok().map(|t| t.ty)
}

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
