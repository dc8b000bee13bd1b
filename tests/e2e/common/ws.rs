//! A graphql-transport-ws client for the subscription tests.

use futures::SinkExt as _;
use serde_json::{Value, json};
use std::net::SocketAddr;
use tokio_tungstenite::tungstenite::{Message, client::IntoClientRequest as _};

pub type Socket =
    tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>;

/// Sends one protocol message.
pub async fn send(socket: &mut Socket, message: Value) {
    socket
        .send(Message::Text(message.to_string().into()))
        .await
        .unwrap();
}

/// Opens `/graphql/ws` on `addr` with the graphql-transport-ws subprotocol, and says
/// nothing yet.
pub async fn open(addr: SocketAddr) -> Socket {
    let mut request = format!("ws://{addr}/graphql/ws")
        .into_client_request()
        .unwrap();
    request.headers_mut().insert(
        "sec-websocket-protocol",
        "graphql-transport-ws".parse().unwrap(),
    );
    tokio_tungstenite::connect_async(request).await.unwrap().0
}

/// Opens `/graphql/ws` on `addr` and sends `connection_init` with `token`; the caller
/// reads the acknowledgement.
pub async fn connect_and_init(addr: SocketAddr, token: &str) -> Socket {
    let mut socket = open(addr).await;
    send(
        &mut socket,
        json!({"type": "connection_init", "payload": {"token": token}}),
    )
    .await;
    socket
}

/// The next text message within `seconds`, parsed; `None` when the socket closed or
/// nothing came.
pub async fn next(socket: &mut Socket, seconds: u64) -> Option<Value> {
    use futures::StreamExt as _;
    loop {
        match tokio::time::timeout(std::time::Duration::from_secs(seconds), socket.next()).await {
            Err(_) => return None,
            Ok(Some(Ok(Message::Text(text)))) => return Some(serde_json::from_str(&text).unwrap()),
            Ok(Some(Ok(Message::Close(_))) | Some(Err(_)) | None) => return None,
            Ok(Some(Ok(_))) => {}
        }
    }
}

/// Opens `/graphql/ws` on `addr` signed in with `token` and subscribes to
/// `notifications(afterSeq)` (`kind seq message`) as operation "1".
pub async fn notifications(addr: SocketAddr, token: &str, after_seq: Option<i64>) -> Socket {
    let mut socket = connect_and_init(addr, token).await;
    assert_eq!(
        next(&mut socket, 15).await.unwrap()["type"],
        "connection_ack"
    );
    send(
        &mut socket,
        json!({"id": "1", "type": "subscribe", "payload": {
            "query": "subscription($a: Long) { notifications(afterSeq: $a) { kind seq message } }",
            "variables": {"a": after_seq}}}),
    )
    .await;
    socket
}
