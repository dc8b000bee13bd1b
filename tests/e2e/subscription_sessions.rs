//! An open subscription lives only as long as its session: suspension (or logout) in any
//! process closes it.

use crate::common;

use common::app::{Cred, TestApp};
use futures::StreamExt as _;
use serde_json::{Value, json};
use std::time::Duration;
use tokio_tungstenite::tungstenite::Message;

use common::ws::Socket;

/// Connects, signs in with `token` and subscribes to the ledger's live tail.
async fn subscribed(app: &TestApp, token: &str) -> Socket {
    let mut socket = common::ws::connect_and_init(app.addr, token).await;
    assert_eq!(
        next_json(&mut socket).await.unwrap()["type"],
        "connection_ack"
    );
    common::ws::send(
        &mut socket,
        json!({"id": "1", "type": "subscribe",
            "payload": {"query": "subscription { ledgerEvents(fromSeq: 1) { seq type } }"}}),
    )
    .await;
    let first = next_json(&mut socket).await.unwrap();
    assert_eq!(first["type"], "next", "{first}");
    socket
}

/// The next text message as JSON; `None` once the socket is closed.
async fn next_json(socket: &mut Socket) -> Option<Value> {
    loop {
        match tokio::time::timeout(Duration::from_secs(15), socket.next())
            .await
            .expect("the server answers within 15 s")
        {
            Some(Ok(Message::Text(text))) => return Some(serde_json::from_str(&text).unwrap()),
            Some(Ok(Message::Close(_))) | Some(Err(_)) | None => return None,
            Some(Ok(_)) => {}
        }
    }
}

/// Reads until the socket closes; fails if it stays open 15 s without a message.
async fn closes(socket: &mut Socket) {
    while next_json(socket).await.is_some() {}
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn suspension_closes_an_open_subscription_and_refuses_the_token() {
    let app = TestApp::start().await;
    let (_, first) = app.create_admin("root@example.org", "Ada Admin").await;
    let (second_id, second) = app.create_admin("ops@example.org", "Otto Ops").await;
    let mut socket = subscribed(&app, &second).await;

    let suspended = app
        .gql(
            Cred::Bearer(&first),
            "mutation($id: UUID!) { suspendUser(userId: $id, reason: \"left\") { status } }",
            json!({"id": second_id}),
        )
        .await;
    assert_eq!(suspended.ok()["suspendUser"]["status"], "SUSPENDED");
    closes(&mut socket).await;
    app.me(Cred::Bearer(&second))
        .await
        .expect_code("UNAUTHENTICATED");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn logging_out_closes_the_subscriptions_of_that_session() {
    let app = TestApp::start().await;
    let (_, admin) = app.create_admin("root@example.org", "Ada Admin").await;
    let mut socket = subscribed(&app, &admin).await;
    app.gql(Cred::Bearer(&admin), "mutation { logout }", json!({}))
        .await
        .ok();
    closes(&mut socket).await;
}
