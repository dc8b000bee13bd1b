//! Password reset by e-mail, through the API and the outbox of `.eml` files.

use crate::common;

use common::smtp::SmtpSink;

use common::app::{Cred, STRONG, STRONG_2, TestApp, eventually};
use serde_json::json;
use std::time::Duration;

const ASK: &str = "mutation($e: String!) { requestPasswordReset(email: $e) }";
const RESET: &str =
    "mutation($t: String!, $p: String!) { resetPassword(token: $t, newPassword: $p) }";

fn mails(app: &TestApp) -> Vec<String> {
    let mut out: Vec<String> = std::fs::read_dir(app.outbox.path())
        .unwrap()
        .map(|e| std::fs::read_to_string(e.unwrap().path()).unwrap())
        .collect();
    out.sort();
    out
}

/// The token of the reset link in a mail (quoted-printable may wrap long lines).
fn token_in(mail: &str) -> String {
    let joined = mail
        .replace("=\r\n", "")
        .replace("=\n", "")
        .replace("=3D", "=");
    let start = joined.find("/reset?token=").expect("a reset link") + "/reset?token=".len();
    joined[start..]
        .chars()
        .take_while(|c| c.is_ascii_alphanumeric() || *c == '-' || *c == '_')
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_mailed_link_sets_a_new_password_once_and_ends_every_session() {
    let app = TestApp::start().await;
    app.register("pat@example.org", "Pat Lee", "PATIENT", STRONG)
        .await;
    let session = app.login("pat@example.org", STRONG).await;

    // An unknown address gets the same answer, and no mail.
    let unknown = app
        .gql(Cred::None, ASK, json!({"e": "nobody@example.org"}))
        .await;
    assert_eq!(unknown.ok()["requestPasswordReset"], true);
    let known = app
        .gql(Cred::None, ASK, json!({"e": " PAT@example.org "}))
        .await;
    assert_eq!(known.ok()["requestPasswordReset"], true);
    let mail = eventually(Duration::from_secs(10), "the reset mail", || {
        let found = mails(&app);
        async move { (found.len() == 1).then(|| found[0].clone()) }
    })
    .await;
    assert!(mail.contains("To: pat@example.org"), "{mail}");
    assert!(mail.contains("http://medchain.test/reset?token="), "{mail}");
    let token = token_in(&mail);
    assert_eq!(app.count_events("PasswordResetRequested").await, 1);

    // The policy applies; a weak password does not use the token up.
    app.gql(Cred::None, RESET, json!({"t": token, "p": "short"}))
        .await
        .expect_code("BAD_USER_INPUT");
    let done = app
        .gql(Cred::None, RESET, json!({"t": token, "p": STRONG_2}))
        .await;
    assert_eq!(done.ok()["resetPassword"], true);
    app.me(Cred::Bearer(&session))
        .await
        .expect_code("UNAUTHENTICATED");
    app.try_login("pat@example.org", STRONG)
        .await
        .expect_code("UNAUTHENTICATED");
    app.login("pat@example.org", STRONG_2).await;
    // Once only; junk is refused the same way.
    app.gql(Cred::None, RESET, json!({"t": token, "p": STRONG}))
        .await
        .expect_code("BAD_USER_INPUT");
    app.gql(Cred::None, RESET, json!({"t": "junk", "p": STRONG}))
        .await
        .expect_code("BAD_USER_INPUT");
    assert_eq!(mails(&app).len(), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_link_expires_after_thirty_minutes() {
    let app = TestApp::start().await;
    app.register("pat@example.org", "Pat Lee", "PATIENT", STRONG)
        .await;
    app.gql(Cred::None, ASK, json!({"e": "pat@example.org"}))
        .await;
    let mail = eventually(Duration::from_secs(10), "the reset mail", || {
        let found = mails(&app);
        async move { found.first().cloned() }
    })
    .await;
    app.clock.advance(Duration::from_secs(31 * 60));
    app.gql(
        Cred::None,
        RESET,
        json!({"t": token_in(&mail), "p": STRONG_2}),
    )
    .await
    .expect_code("BAD_USER_INPUT");
    app.login("pat@example.org", STRONG).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_link_arrives_through_a_real_smtp_server_and_works_once_within_thirty_minutes() {
    let sink = SmtpSink::start();
    let mut app = TestApp::start().await;
    app.smtp_url = Some(format!("smtp://127.0.0.1:{}", sink.port));
    app.restart().await;
    app.register("pat@example.org", "Pat Lee", "PATIENT", STRONG)
        .await;

    let ask_and_receive = |n: usize| {
        let (app, sink) = (&app, &sink);
        async move {
            app.gql(Cred::None, ASK, json!({"e": "pat@example.org"}))
                .await;
            eventually(Duration::from_secs(10), "mail through SMTP", || {
                let found = sink.mails();
                async move { (found.len() == n).then_some(found) }
            })
            .await
        }
    };
    let mail = ask_and_receive(1).await.remove(0);
    assert!(mail.contains("pat@example.org"), "{mail}");
    assert!(mails(&app).is_empty(), "SMTP is used, not the outbox");
    let token = token_in(&mail);
    let done = app
        .gql(Cred::None, RESET, json!({"t": token, "p": STRONG_2}))
        .await;
    assert_eq!(done.ok()["resetPassword"], true);
    app.gql(Cred::None, RESET, json!({"t": token, "p": STRONG}))
        .await
        .expect_code("BAD_USER_INPUT");

    // A second link, left for more than 30 minutes, no longer works.
    let late = ask_and_receive(2)
        .await
        .iter()
        .map(|m| token_in(m))
        .find(|t| *t != token)
        .expect("a second, different link");
    app.clock.advance(Duration::from_secs(30 * 60 + 1));
    app.gql(Cred::None, RESET, json!({"t": late, "p": STRONG}))
        .await
        .expect_code("BAD_USER_INPUT");
    app.login("pat@example.org", STRONG_2).await;
}

/// Every unused link of an account is void once one of them is used, and once the
/// password is changed: an older mail must never set the password again.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_reset_or_a_password_change_voids_the_other_links() {
    let app = TestApp::start().await;
    app.register("ria@example.org", "Ria Moss", "PATIENT", STRONG)
        .await;
    let ask = || async {
        let before = mails(&app).len();
        app.gql(Cred::None, ASK, json!({"e": "ria@example.org"}))
            .await
            .ok();
        eventually(Duration::from_secs(10), "a reset mail", || {
            let found = mails(&app);
            async move { (found.len() == before + 1).then_some(()) }
        })
        .await;
    };
    ask().await;
    ask().await;
    let tokens: Vec<String> = mails(&app).iter().map(|m| token_in(m)).collect();
    assert_eq!(tokens.len(), 2);
    assert_ne!(tokens[0], tokens[1]);
    app.gql(Cred::None, RESET, json!({"t": tokens[0], "p": STRONG_2}))
        .await
        .ok();
    let older = app
        .gql(Cred::None, RESET, json!({"t": tokens[1], "p": STRONG}))
        .await;
    older.expect_code("BAD_USER_INPUT");
    app.login("ria@example.org", STRONG_2).await;

    // A link mailed before a password change is void after it.
    ask().await;
    let before_change = token_in(
        mails(&app)
            .iter()
            .find(|m| !tokens.iter().any(|t| m.contains(t.as_str())))
            .unwrap(),
    );
    let session = app.login("ria@example.org", STRONG_2).await;
    app.gql(
        Cred::Bearer(&session),
        "mutation($c: String!, $n: String!) { changePassword(current: $c, new: $n) }",
        json!({"c": STRONG_2, "n": STRONG}),
    )
    .await
    .ok();
    app.gql(
        Cred::None,
        RESET,
        json!({"t": before_change, "p": STRONG_2}),
    )
    .await
    .expect_code("BAD_USER_INPUT");
    app.login("ria@example.org", STRONG).await;
}

/// Reset requests are limited per address asked about (3 an hour): the eleventh gets the
/// same answer as the first, and neither a mail nor an event comes of those past it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_eleventh_reset_request_is_answered_alike_and_sends_nothing() {
    let app = TestApp::start().await;
    app.register("sol@example.org", "Sol Reyes", "PATIENT", STRONG)
        .await;
    for _ in 0..11 {
        let answer = app
            .gql(Cred::None, ASK, json!({"e": "sol@example.org"}))
            .await;
        assert_eq!(answer.ok()["requestPasswordReset"], true);
        assert_eq!(answer.body, json!({"data": {"requestPasswordReset": true}}));
    }
    let limit = commands::rate_limit::Limits::default()
        .reset_per_account
        .max as usize;
    eventually(
        Duration::from_secs(10),
        "the mails within the limit",
        || {
            let found = mails(&app).len();
            async move { (found == limit).then_some(()) }
        },
    )
    .await;
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(mails(&app).len(), limit, "nothing past the limit is mailed");
    assert_eq!(
        app.count_events("PasswordResetRequested").await,
        limit as i64
    );
    // An hour later the account may ask again.
    app.clock.advance(Duration::from_secs(3601));
    app.gql(Cred::None, ASK, json!({"e": "sol@example.org"}))
        .await
        .ok();
    eventually(Duration::from_secs(10), "a mail after the window", || {
        let found = mails(&app).len();
        async move { (found == limit + 1).then_some(()) }
    })
    .await;
}
