//! The `notifications` subscription: live across server processes, resumed with
//! `afterSeq` without a gap or a repeat, and closed when the account is suspended.

use crate::common;

use common::app::{Cred, TestApp};
use common::records::{cast, content, pdf, share, upload_ok};
use serde_json::json;
use std::{net::SocketAddr, time::Duration};

use common::ws::Socket;

/// Subscribes to `notifications(afterSeq)` on the server at `addr`.
async fn subscribe(addr: SocketAddr, token: &str, after_seq: Option<i64>) -> Socket {
    common::ws::notifications(addr, token, after_seq).await
}

/// The next notification: `(kind, seq)`.
async fn notification(socket: &mut Socket) -> (String, i64) {
    let message = common::ws::next(socket, 15)
        .await
        .expect("a notification within 15 s");
    assert_eq!(message["type"], "next", "{message}");
    let n = &message["payload"]["data"]["notifications"];
    (
        n["kind"].as_str().unwrap().to_owned(),
        n["seq"].as_i64().unwrap(),
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_read_through_one_process_reaches_a_subscriber_on_another() {
    let app = TestApp::start().await;
    let b = app.another_server().await;
    let c = cast(&app).await;
    let id = upload_ok(&app, &c.patient.token, "Blood test", pdf("x", 1_000)).await;
    share(&app, &c.patient.token, &id, &c.doctor.id, None)
        .await
        .ok();

    let mut socket = subscribe(b.addr, &c.patient.token, None).await;
    // Let the subscription start before the read.
    tokio::time::sleep(Duration::from_millis(300)).await;
    let sent = std::time::Instant::now();
    assert_eq!(
        content(&app, Some(&c.doctor.token), &id, false).await.0,
        200
    );
    let (kind, _) = notification(&mut socket).await;
    assert_eq!(kind, "RECORD_ACCESSED");
    eprintln!("read on A → notification on B: {:?}", sent.elapsed());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_reconnect_with_after_seq_gets_exactly_what_it_missed_in_order() {
    let app = TestApp::start().await;
    let c = cast(&app).await;
    let id = upload_ok(&app, &c.patient.token, "Scan", pdf("x", 1_000)).await;
    share(&app, &c.patient.token, &id, &c.doctor.id, None)
        .await
        .ok();

    let mut socket = subscribe(app.addr, &c.patient.token, None).await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(
        content(&app, Some(&c.doctor.token), &id, false).await.0,
        200
    );
    let (_, seen) = notification(&mut socket).await;
    drop(socket);

    // Three while away.
    for _ in 0..3 {
        assert_eq!(content(&app, Some(&c.doctor.token), &id, true).await.0, 200);
    }
    let mut socket = subscribe(app.addr, &c.patient.token, Some(seen)).await;
    let mut seqs = Vec::new();
    for _ in 0..3 {
        let (kind, seq) = notification(&mut socket).await;
        assert_eq!(kind, "RECORD_ACCESSED");
        seqs.push(seq);
    }
    assert!(
        seqs[0] > seen && seqs.windows(2).all(|w| w[0] < w[1]),
        "{seqs:?}"
    );
    assert!(
        common::ws::next(&mut socket, 2).await.is_none(),
        "nothing more, nothing twice"
    );

    // Then live, on the same subscription.
    assert_eq!(content(&app, Some(&c.doctor.token), &id, true).await.0, 200);
    let (_, live) = notification(&mut socket).await;
    assert!(live > seqs[2]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn suspending_the_user_closes_their_notifications_subscription() {
    let app = TestApp::start().await;
    let c = cast(&app).await;
    let mut socket = subscribe(app.addr, &c.doctor.token, Some(0)).await;
    let (kind, _) = notification(&mut socket).await;
    assert_eq!(kind, "ACCOUNT_APPROVED");
    app.gql(
        Cred::Bearer(&c.admin.token),
        "mutation($id: UUID!) { suspendUser(userId: $id, reason: \"left\") { status } }",
        json!({"id": c.doctor.id}),
    )
    .await
    .ok();
    // The subscription completes or the socket closes: either way, nothing more.
    loop {
        match common::ws::next(&mut socket, 15).await {
            None => break,
            Some(m) if m["type"] == "complete" || m["type"] == "error" => break,
            Some(m) => assert_ne!(m["type"], "next", "{m}"),
        }
    }
}
