//! Sessions end to end: idle and absolute expiry with an injected clock, listing and
//! revoking sessions, password changes, and subscriptions authenticated in
//! `connection_init` (graphql-transport-ws).

use crate::common;

use commands::accounts::SessionPolicy;
use common::app::{Cred, STRONG, STRONG_2, TestApp};
use futures::{SinkExt as _, StreamExt as _};
use serde_json::{Value, json};
use std::time::Duration;
use tokio_tungstenite::tungstenite::{self, Message, client::IntoClientRequest as _};

const MINUTE: Duration = Duration::from_secs(60);

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unused_session_ends_after_thirty_minutes() {
    let app = TestApp::start().await;
    let email = "idle.user@example.org";
    app.register(email, "Idle User", "PATIENT", STRONG).await;

    // Used every 29 minutes, it lives on.
    let token = app.login(email, STRONG).await;
    for _ in 0..3 {
        app.clock.advance(29 * MINUTE);
        assert_eq!(
            app.me(Cred::Bearer(&token)).await.ok()["me"]["email"],
            email
        );
    }
    // 31 minutes without use: ended, as header and as cookie.
    app.clock.advance(31 * MINUTE);
    app.me(Cred::Bearer(&token))
        .await
        .expect_code("UNAUTHENTICATED");
    app.me(Cred::Cookie(&token))
        .await
        .expect_code("UNAUTHENTICATED");
    // A new login works, and the ended session is no longer listed.
    let again = app.login(email, STRONG).await;
    assert_eq!(
        app.me(Cred::Bearer(&again)).await.ok()["me"]["email"],
        email
    );
    let sessions = app
        .gql(Cred::Bearer(&again), "{ mySessions { id } }", json!({}))
        .await;
    assert_eq!(
        sessions.ok()["mySessions"].as_array().unwrap().len(),
        1,
        "{}",
        sessions.body
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_session_in_use_ends_twelve_hours_after_login() {
    let app = TestApp::start().await;
    let email = "busy.user@example.org";
    app.register(email, "Busy User", "PATIENT", STRONG).await;
    let token = app.login(email, STRONG).await;

    // Used every 20 minutes up to 11 h 40 min, then at 11 h 55 min: all fine.
    for _ in 0..35 {
        app.clock.advance(20 * MINUTE);
        assert_eq!(
            app.me(Cred::Bearer(&token)).await.ok()["me"]["email"],
            email
        );
    }
    app.clock.advance(15 * MINUTE);
    assert_eq!(
        app.me(Cred::Bearer(&token)).await.ok()["me"]["email"],
        email
    );
    // 12 h 05 min after login, 10 minutes after its last use: ended all the same.
    app.clock.advance(10 * MINUTE);
    app.me(Cred::Bearer(&token))
        .await
        .expect_code("UNAUTHENTICATED");
    app.gql(Cred::Bearer(&token), "{ __typename }", json!({}))
        .await
        .expect_code("UNAUTHENTICATED");
}

/// `mySessions` as seen through `token`.
async fn my_sessions(app: &TestApp, token: &str) -> Vec<Value> {
    app.gql(
        Cred::Bearer(token),
        "{ mySessions { id createdAt lastSeenAt expiresAt current userAgent } }",
        json!({}),
    )
    .await
    .ok()["mySessions"]
        .as_array()
        .unwrap()
        .clone()
}

fn current_id(sessions: &[Value]) -> String {
    let current: Vec<&Value> = sessions.iter().filter(|s| s["current"] == true).collect();
    assert_eq!(
        current.len(),
        1,
        "exactly one current session: {sessions:?}"
    );
    current[0]["id"].as_str().unwrap().to_owned()
}

async fn login_as(app: &TestApp, agent: &str, email: &str, password: &str) -> String {
    app.try_login_as(Some(agent), email, password).await.ok()["login"]["token"]
        .as_str()
        .unwrap()
        .to_owned()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sessions_are_listed_and_revoked_and_a_password_change_ends_the_others() {
    let app = TestApp::start().await;
    let email = "many.sessions@example.org";
    app.register(email, "Many Sessions", "PATIENT", STRONG)
        .await;
    let stranger = "someone.else@example.org";
    app.register(stranger, "Someone Else", "PATIENT", STRONG)
        .await;

    let a = login_as(&app, "agent-A", email, STRONG).await;
    app.clock.advance(MINUTE);
    let b = login_as(&app, "agent-B", email, STRONG).await;

    let seen_by_a = my_sessions(&app, &a).await;
    let seen_by_b = my_sessions(&app, &b).await;
    assert_eq!(seen_by_a.len(), 2, "{seen_by_a:?}");
    let id_a = current_id(&seen_by_a);
    let id_b = current_id(&seen_by_b);
    assert_ne!(id_a, id_b);
    let agent_of = |id: &str| {
        seen_by_a
            .iter()
            .find(|s| s["id"] == id)
            .map(|s| s["userAgent"].clone())
            .unwrap()
    };
    assert_eq!(agent_of(&id_a), "agent-A");
    // A session unused since login ends 30 minutes after it (the idle limit comes first).
    let time = |s: &Value, field: &str| {
        chrono::DateTime::parse_from_rfc3339(s[field].as_str().unwrap()).unwrap()
    };
    for s in &seen_by_a {
        assert_eq!(
            time(s, "expiresAt") - time(s, "lastSeenAt"),
            chrono::Duration::minutes(30),
            "{s}"
        );
    }
    assert_eq!(agent_of(&id_b), "agent-B");

    // Another user's session, or none at all, is NOT_FOUND, and nothing ends.
    let other = login_as(&app, "agent-X", stranger, STRONG).await;
    let revoke = "mutation($id: UUID!) { revokeSession(id: $id) }";
    app.gql(Cred::Bearer(&other), revoke, json!({"id": id_b}))
        .await
        .expect_code("NOT_FOUND");
    app.gql(
        Cred::Bearer(&a),
        revoke,
        json!({"id": uuid::Uuid::new_v4().to_string()}),
    )
    .await
    .expect_code("NOT_FOUND");
    assert_eq!(app.me(Cred::Bearer(&b)).await.ok()["me"]["email"], email);

    // A revokes B: B's token is refused from then on.
    let revoked = app.gql(Cred::Bearer(&a), revoke, json!({"id": id_b})).await;
    assert_eq!(revoked.ok()["revokeSession"], true);
    app.me(Cred::Bearer(&b))
        .await
        .expect_code("UNAUTHENTICATED");
    let left = my_sessions(&app, &a).await;
    assert_eq!(left.len(), 1, "{left:?}");
    assert_eq!(current_id(&left), id_a);

    // A password change: the wrong current password is BAD_USER_INPUT, changes nothing.
    let c = login_as(&app, "agent-C", email, STRONG).await;
    let change = "mutation($c: String!, $n: String!) { changePassword(current: $c, new: $n) }";
    let before = app.count_events("PasswordChanged").await;
    app.gql(
        Cred::Bearer(&a),
        change,
        json!({"c": "not-the-password-1", "n": STRONG_2}),
    )
    .await
    .expect_code("BAD_USER_INPUT");
    // A weak new password is refused with what is wrong.
    let weak = app
        .gql(Cred::Bearer(&a), change, json!({"c": STRONG, "n": "short"}))
        .await;
    assert!(weak.expect_code("BAD_USER_INPUT").contains("12 characters"));
    assert_eq!(app.count_events("PasswordChanged").await, before);
    assert_eq!(app.me(Cred::Bearer(&c)).await.ok()["me"]["email"], email);
    // Anonymous: UNAUTHENTICATED.
    app.gql(Cred::None, change, json!({"c": STRONG, "n": STRONG_2}))
        .await
        .expect_code("UNAUTHENTICATED");

    // The change itself, from A: every other session ends, A's stays.
    let changed = app
        .gql(
            Cred::Bearer(&a),
            change,
            json!({"c": STRONG, "n": STRONG_2}),
        )
        .await;
    assert_eq!(changed.ok()["changePassword"], true);
    assert_eq!(app.count_events("PasswordChanged").await, before + 1);
    app.me(Cred::Bearer(&c))
        .await
        .expect_code("UNAUTHENTICATED");
    assert_eq!(app.me(Cred::Bearer(&a)).await.ok()["me"]["email"], email);
    let left = my_sessions(&app, &a).await;
    assert_eq!(left.len(), 1, "{left:?}");
    assert_eq!(current_id(&left), id_a);
    // The other user's session is untouched.
    assert_eq!(
        app.me(Cred::Bearer(&other)).await.ok()["me"]["email"],
        stranger
    );

    // The old password no longer logs in; the new one does.
    app.try_login(email, STRONG)
        .await
        .expect_code("UNAUTHENTICATED");
    let d = app.login(email, STRONG_2).await;
    assert_eq!(app.me(Cred::Bearer(&d)).await.ok()["me"]["email"], email);

    // A session can revoke itself.
    let id_d = current_id(&my_sessions(&app, &d).await);
    let revoked = app.gql(Cred::Bearer(&d), revoke, json!({"id": id_d})).await;
    assert_eq!(revoked.ok()["revokeSession"], true);
    app.me(Cred::Bearer(&d))
        .await
        .expect_code("UNAUTHENTICATED");
    assert_eq!(app.me(Cred::Bearer(&a)).await.ok()["me"]["email"], email);
}

/// Opens `/graphql/ws` with the graphql-transport-ws subprotocol.
async fn ws_connect(
    app: &TestApp,
    origin: Option<&str>,
    cookie: Option<&str>,
) -> Result<
    tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>,
    tungstenite::Error,
> {
    let mut request = format!("ws://{}/graphql/ws", app.addr)
        .into_client_request()
        .unwrap();
    request.headers_mut().insert(
        "sec-websocket-protocol",
        "graphql-transport-ws".parse().unwrap(),
    );
    if let Some(origin) = origin {
        request
            .headers_mut()
            .insert("origin", origin.parse().unwrap());
    }
    if let Some(token) = cookie {
        request.headers_mut().insert(
            "cookie",
            format!("medchain_session={token}").parse().unwrap(),
        );
    }
    let (socket, response) = tokio_tungstenite::connect_async(request).await?;
    assert_eq!(
        response
            .headers()
            .get("sec-websocket-protocol")
            .map(|v| v.to_str().unwrap()),
        Some("graphql-transport-ws")
    );
    Ok(socket)
}

/// Sends `connection_init` with `payload` and returns the first message's `type`, or
/// `closed <code> <reason>` when the server closes the socket instead.
async fn connection_init(
    app: &TestApp,
    origin: Option<&str>,
    cookie: Option<&str>,
    payload: Value,
) -> String {
    let mut socket = ws_connect(app, origin, cookie)
        .await
        .expect("the upgrade succeeds");
    socket
        .send(Message::Text(
            json!({"type": "connection_init", "payload": payload})
                .to_string()
                .into(),
        ))
        .await
        .unwrap();
    let answer = tokio::time::timeout(Duration::from_secs(30), async {
        loop {
            match socket.next().await {
                None => return "closed (no frame)".to_owned(),
                Some(Err(e)) => return format!("closed ({e})"),
                Some(Ok(Message::Text(text))) => {
                    let message: Value = serde_json::from_str(&text).unwrap();
                    return message["type"].as_str().unwrap_or_default().to_owned();
                }
                Some(Ok(Message::Close(frame))) => {
                    return frame.map_or("closed".to_owned(), |f| {
                        format!("closed {} {}", u16::from(f.code), f.reason)
                    });
                }
                Some(Ok(_)) => {}
            }
        }
    })
    .await
    .expect("the server answers connection_init within 30 s");
    let _ = socket.close(None).await;
    answer
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn subscriptions_need_a_valid_token_and_the_app_origin() {
    let app = TestApp::start().await;
    let email = "sub.scriber@example.org";
    app.register(email, "Sub Scriber", "PATIENT", STRONG).await;

    // No token: no connection_ack, the socket is closed.
    let answer = connection_init(&app, None, None, json!({})).await;
    assert!(
        answer.starts_with("closed 4403") && answer.contains("UNAUTHENTICATED"),
        "{answer}"
    );
    // A token that is not a session's: the same.
    let answer = connection_init(&app, None, None, json!({"token": "not-a-token"})).await;
    assert!(
        answer.starts_with("closed 4403") && answer.contains("UNAUTHENTICATED"),
        "{answer}"
    );

    // A valid token: acknowledged.
    let token = app.login(email, STRONG).await;
    let answer = connection_init(&app, None, None, json!({"token": token})).await;
    assert_eq!(answer, "connection_ack");
    // The app's own origin is welcome.
    let origin = format!("http://{}", app.addr);
    let answer = connection_init(&app, Some(&origin), None, json!({"token": token})).await;
    assert_eq!(answer, "connection_ack");
    // Or the session cookie, with an empty connection_init.
    let answer = connection_init(&app, Some(&origin), Some(&token), json!({})).await;
    assert_eq!(answer, "connection_ack");

    // Another origin is refused before the upgrade: HTTP 403.
    for origin in ["http://evil.example", "null", "https://127.0.0.1"] {
        match ws_connect(&app, Some(origin), None).await {
            Err(tungstenite::Error::Http(response)) => {
                assert_eq!(response.status().as_u16(), 403, "{origin}");
            }
            Err(e) => panic!("{origin}: expected HTTP 403, got {e}"),
            Ok(_) => panic!("{origin}: the upgrade was accepted"),
        }
    }

    // A logged-out token is refused too.
    app.gql(Cred::Bearer(&token), "mutation { logout }", json!({}))
        .await
        .ok();
    let answer = connection_init(&app, None, None, json!({"token": token})).await;
    assert!(
        answer.starts_with("closed 4403") && answer.contains("UNAUTHENTICATED"),
        "{answer}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn behind_an_https_public_url_the_cookie_is_secure_and_only_that_origin_subscribes() {
    let public = "https://medchain.example.org";
    let app = TestApp::start_with(SessionPolicy::default(), Some(public)).await;
    let email = "secure.cookie@example.org";
    app.register(email, "Secure Cookie", "PATIENT", STRONG)
        .await;
    let login = app.try_login(email, STRONG).await;
    let token = login.ok()["login"]["token"].as_str().unwrap().to_owned();
    let cookie = login
        .set_cookies
        .iter()
        .find(|c| c.starts_with("__Host-medchain_session="))
        .unwrap_or_else(|| {
            panic!(
                "over https the cookie is __Host- prefixed: {:?}",
                login.set_cookies
            )
        });
    assert!(!cookie.to_ascii_lowercase().contains("domain="), "{cookie}");
    assert!(cookie.contains("Path=/"), "{cookie}");
    let attributes: Vec<String> = cookie
        .split(';')
        .map(|a| a.trim().to_ascii_lowercase())
        .collect();
    for wanted in ["secure", "httponly", "samesite=strict"] {
        assert!(attributes.contains(&wanted.to_owned()), "{cookie}");
    }

    let answer = connection_init(&app, Some(public), None, json!({"token": token})).await;
    assert_eq!(answer, "connection_ack");
    let own_address = format!("http://{}", app.addr);
    match ws_connect(&app, Some(&own_address), None).await {
        Err(tungstenite::Error::Http(response)) => assert_eq!(response.status().as_u16(), 403),
        Err(e) => panic!("expected HTTP 403, got {e}"),
        Ok(_) => panic!("the upgrade from {own_address} was accepted"),
    }
}

/// Session lookups that arrive together are read from the database together
/// (`projections::sessions`): each request must still get its own session, and an ended
/// or unknown one must be refused, whatever else was in its batch.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_requests_each_get_their_own_session() {
    let app = TestApp::start().await;
    let names = ["Ada Quill", "Bo Fenwick", "Cy Marlowe", "Di Ashgrove"];
    let mut tokens = Vec::new();
    for (i, name) in names.iter().enumerate() {
        let email = format!("crowd{i}@example.org");
        app.register(&email, name, "PATIENT", STRONG).await;
        tokens.push((app.login(&email, STRONG).await, Some(email)));
    }
    // An ended session and a token that never was, in the same crowd.
    let ended = app.login("crowd0@example.org", STRONG).await;
    app.gql(Cred::Bearer(&ended), "mutation { logout }", json!({}))
        .await
        .ok();
    tokens.push((ended, None));
    tokens.push(("A".repeat(43), None));

    let asks = (0..120).map(|i| {
        let (token, email) = &tokens[i % tokens.len()];
        let app = &app;
        async move { (email.clone(), app.me(Cred::Bearer(token)).await) }
    });
    for (email, answer) in futures::future::join_all(asks).await {
        match email {
            Some(email) => assert_eq!(answer.ok()["me"]["email"], email.as_str()),
            None => {
                answer.expect_code("UNAUTHENTICATED");
            }
        }
    }
}
