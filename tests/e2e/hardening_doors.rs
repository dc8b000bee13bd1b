//! Every door the same lock: requests a browser sends with the session cookie from another
//! site are refused (nothing done); the subscription socket carries subscriptions only,
//! must sign in within 10 s and has an operation budget; introspection is for signed-in
//! callers; a malformed id in a path gets the JSON error body.

use crate::common;

use common::app::{Cred, STRONG, TestApp};
use common::records::{files_under, pdf};
use common::ws::Socket;
use futures::StreamExt as _;
use serde_json::{Value, json};
use std::time::Duration;
use tokio_tungstenite::tungstenite::Message;

const EVIL: &str = "https://evil.medchain.example.org";

async fn patient(app: &TestApp, email: &str) -> String {
    app.register(email, "Pat Doorman", "PATIENT", STRONG).await;
    app.login(email, STRONG).await
}

/// A cookie-authenticated upload from another origin is refused, and nothing is stored;
/// the same upload with the app's own origin works.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_cross_site_upload_with_the_cookie_is_refused_and_stores_nothing() {
    let app = TestApp::start().await;
    let token = patient(&app, "pat@example.org").await;
    let upload = |origin: Option<&'static str>, fetch_site: Option<&'static str>| {
        let form = reqwest::multipart::Form::new()
            .text("title", "Blood panel")
            .part(
                "file",
                reqwest::multipart::Part::bytes(pdf("CSRF-MARKER", 4096)).file_name("a.pdf"),
            );
        let mut request = app
            .http
            .post(app.url("/api/records"))
            .header("cookie", format!("medchain_session={token}"))
            .multipart(form);
        if let Some(origin) = origin {
            request = request.header("origin", origin);
        }
        if let Some(site) = fetch_site {
            request = request.header("sec-fetch-site", site);
        }
        async move {
            let response = request.send().await.unwrap();
            (
                response.status().as_u16(),
                response.json::<Value>().await.unwrap(),
            )
        }
    };
    for (origin, site) in [
        (Some(EVIL), None),
        (Some("null"), None),
        (None, Some("same-site")),
        (None, Some("cross-site")),
    ] {
        let (status, body) = upload(origin, site).await;
        assert_eq!(status, 403, "{origin:?} {site:?}: {body}");
        assert_eq!(body["error"]["code"], "FORBIDDEN", "{body}");
    }
    assert_eq!(app.count_events("RecordUploaded").await, 0);
    assert!(
        files_under(app.blobs.path()).is_empty(),
        "no blob: {:?}",
        files_under(app.blobs.path())
    );
    // The app's own pages may.
    let own = format!("http://{}", app.addr);
    let own: &'static str = Box::leak(own.into_boxed_str());
    let (status, body) = upload(Some(own), Some("same-origin")).await;
    assert_eq!(status, 201, "{body}");
}

/// POST /graphql with the cookie from another origin runs nothing; with a Bearer token
/// (which no browser adds by itself) it is not checked.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_cross_site_mutation_with_the_cookie_is_refused() {
    let app = TestApp::start().await;
    let token = patient(&app, "pat@example.org").await;
    let change = "mutation { requestProfileChange(input: {phone: \"+44 20 7946 0958\"}) { id } }";
    let send = |cred: String, origin: &'static str| {
        app.http
            .post(app.url("/graphql"))
            .header(
                if cred.starts_with("Bearer") {
                    "authorization"
                } else {
                    "cookie"
                },
                cred,
            )
            .header("origin", origin)
            .json(&json!({"query": change}))
            .send()
    };
    let refused = send(format!("medchain_session={token}"), EVIL)
        .await
        .unwrap();
    assert_eq!(refused.status(), 403);
    let body: Value = refused.json().await.unwrap();
    assert_eq!(
        body["errors"][0]["extensions"]["code"], "FORBIDDEN",
        "{body}"
    );
    assert_eq!(app.count_events("ProfileChangeRequested").await, 0);
    let bearer = send(format!("Bearer {token}"), EVIL).await.unwrap();
    let body: Value = bearer.json().await.unwrap();
    assert!(body["errors"].is_null(), "{body}");
    assert_eq!(app.count_events("ProfileChangeRequested").await, 1);
}

/// A sibling site cannot make the browser read content with the cookie and so write a
/// read into the patient's access log.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_cross_site_read_with_the_cookie_records_nothing() {
    let app = TestApp::start().await;
    let token = patient(&app, "pat@example.org").await;
    let id = common::records::upload_ok(&app, &token, "X-ray", pdf("READ", 2048)).await;
    let read = |site: &'static str| {
        app.http
            .get(app.url(&format!("/api/records/{id}/content")))
            .header("cookie", format!("medchain_session={token}"))
            .header("sec-fetch-site", site)
            .send()
    };
    for site in ["same-site", "cross-site"] {
        let response = read(site).await.unwrap();
        assert_eq!(response.status(), 403, "{site}");
        let body: Value = response.json().await.unwrap();
        assert_eq!(body["error"]["code"], "FORBIDDEN");
    }
    assert_eq!(app.count_events("RecordAccessed").await, 0);
    assert_eq!(app.count_events("RecordAccessDenied").await, 0);
    for site in ["same-origin", "none"] {
        assert_eq!(read(site).await.unwrap().status(), 200, "{site}");
    }
    assert_eq!(app.count_events("RecordAccessed").await, 2);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_malformed_id_in_a_path_gets_the_json_error_body() {
    let app = TestApp::start().await;
    let token = patient(&app, "pat@example.org").await;
    for path in ["/api/records/not-a-uuid/content", "/api/users/12345/photo"] {
        let response = app
            .http
            .get(app.url(path))
            .bearer_auth(&token)
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 400, "{path}");
        let body: Value = response.json().await.unwrap();
        assert_eq!(body["error"]["code"], "BAD_USER_INPUT", "{path}: {body}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn introspection_is_for_signed_in_callers() {
    let app = TestApp::start().await;
    let token = patient(&app, "pat@example.org").await;
    let schema = "{ __schema { queryType { name } } }";
    let anonymous = app.gql(Cred::None, schema, json!({})).await;
    anonymous.expect_code("UNAUTHENTICATED");
    assert!(anonymous.data().is_null(), "{}", anonymous.body);
    let by_type = app
        .gql(
            Cred::None,
            "{ a: __type(name: \"User\") { name } }",
            json!({}),
        )
        .await;
    by_type.expect_code("UNAUTHENTICATED");
    // __typename is not introspection of the schema.
    let typename = app.gql(Cred::None, "{ __typename }", json!({})).await;
    assert_eq!(typename.ok()["__typename"], "Query");
    let signed_in = app.gql(Cred::Bearer(&token), schema, json!({})).await;
    assert_eq!(signed_in.ok()["__schema"]["queryType"]["name"], "Query");
}

/// The next protocol message, or how the socket closed.
async fn next(socket: &mut Socket, within: Duration) -> Result<Value, Option<u16>> {
    loop {
        match tokio::time::timeout(within, socket.next()).await {
            Err(_) => panic!("nothing from the socket within {within:?}"),
            Ok(Some(Ok(Message::Text(text)))) => return Ok(serde_json::from_str(&text).unwrap()),
            Ok(Some(Ok(Message::Close(frame)))) => {
                return Err(frame.map(|f| u16::from(f.code)));
            }
            Ok(Some(Err(_)) | None) => return Err(None),
            Ok(Some(Ok(_))) => {}
        }
    }
}

/// Signing in (or any mutation or query) over the socket is refused: the socket carries
/// subscriptions only, so the address limits and the body cap of POST /graphql cannot
/// be gone around. Here the address is already limited, and the socket still signs no
/// one in.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_socket_carries_subscriptions_only() {
    let mut app = TestApp::start().await;
    app.rate_limits.login_per_address = commands::rate_limit::Limit::per_minutes(1, 15);
    app.restart().await;
    let token = patient(&app, "pat@example.org").await;
    app.try_login("nobody@example.org", "Wrong-password-1")
        .await
        .expect_code("UNAUTHENTICATED");
    app.try_login("pat@example.org", STRONG)
        .await
        .expect_code("RATE_LIMITED");
    let before = app.count_events("LoginSucceeded").await;
    let mut socket = common::ws::connect_and_init(app.addr, &token).await;
    assert_eq!(
        next(&mut socket, Duration::from_secs(10)).await.unwrap()["type"],
        "connection_ack"
    );
    common::ws::send(
        &mut socket,
        json!({"id": "1", "type": "subscribe", "payload": {"query":
            "mutation { login(email: \"pat@example.org\", password: \"Tq9#vLm2!pXz7wRb\") { token } }"}}),
    )
    .await;
    let answer = next(&mut socket, Duration::from_secs(10)).await.unwrap();
    let errors = if answer["type"] == "error" {
        &answer["payload"]
    } else {
        &answer["payload"]["errors"]
    };
    assert_eq!(
        errors[0]["extensions"]["code"], "BAD_USER_INPUT",
        "{answer}"
    );
    assert!(
        errors[0]["message"]
            .as_str()
            .unwrap()
            .contains("subscriptions only"),
        "{answer}"
    );
    assert_eq!(
        app.count_events("LoginSucceeded").await,
        before,
        "nobody signed in"
    );
}

/// A socket that never sends connection_init is closed with 4408 after 10 s.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_silent_socket_is_closed() {
    let app = TestApp::start().await;
    let mut socket = common::ws::open(app.addr).await;
    let started = std::time::Instant::now();
    let closed = next(&mut socket, Duration::from_secs(20)).await;
    assert_eq!(closed, Err(Some(4408)));
    assert!(
        started.elapsed() >= Duration::from_secs(9),
        "{:?}",
        started.elapsed()
    );
}

/// One socket may open at most 100 operations; past that it is closed with 4429.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_socket_past_its_operation_budget_is_closed() {
    let app = TestApp::start().await;
    let token = patient(&app, "pat@example.org").await;
    let mut socket = common::ws::connect_and_init(app.addr, &token).await;
    assert_eq!(
        next(&mut socket, Duration::from_secs(10)).await.unwrap()["type"],
        "connection_ack"
    );
    for i in 0..101 {
        common::ws::send(
            &mut socket,
            json!({"id": format!("{i}"), "type": "subscribe",
                "payload": {"query": "subscription { notifications { id } }"}}),
        )
        .await;
    }
    let mut code = None;
    for _ in 0..1000 {
        match next(&mut socket, Duration::from_secs(10)).await {
            Ok(_) => continue,
            Err(c) => {
                code = c;
                break;
            }
        }
    }
    assert_eq!(code, Some(4429));
}

/// A socket message is capped like a POST body, and a session may hold a bounded number
/// of sockets at once (a further connection_init is refused with 4429).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn socket_messages_and_sockets_per_session_are_bounded() {
    let app = TestApp::start().await;
    let token = patient(&app, "pat@example.org").await;
    let mut big = common::ws::connect_and_init(app.addr, &token).await;
    assert_eq!(
        next(&mut big, Duration::from_secs(10)).await.unwrap()["type"],
        "connection_ack"
    );
    let padding = "x".repeat(300 * 1024);
    let _ = futures::SinkExt::send(
        &mut big,
        Message::Text(json!({"id": "1", "type": "subscribe", "payload": {"query": format!("subscription {{ notifications {{ id }} }} # {padding}")}}).to_string().into()),
    )
    .await;
    assert!(
        next(&mut big, Duration::from_secs(10)).await.is_err(),
        "closed past the cap"
    );

    let mut open = Vec::new();
    for _ in 0..8 {
        let mut socket = common::ws::connect_and_init(app.addr, &token).await;
        assert_eq!(
            next(&mut socket, Duration::from_secs(10)).await.unwrap()["type"],
            "connection_ack"
        );
        open.push(socket);
    }
    let mut ninth = common::ws::connect_and_init(app.addr, &token).await;
    assert_eq!(
        next(&mut ninth, Duration::from_secs(10)).await,
        Err(Some(4429))
    );
    // Closing one makes room again.
    drop(open.pop());
    tokio::time::sleep(Duration::from_millis(300)).await;
    let mut again = common::ws::connect_and_init(app.addr, &token).await;
    assert_eq!(
        next(&mut again, Duration::from_secs(10)).await.unwrap()["type"],
        "connection_ack"
    );
}
