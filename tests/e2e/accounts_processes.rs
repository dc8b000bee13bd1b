//! Two `medchain serve` processes on one database (DATABASE_URL, a shared master key
//! file): an account registered through one logs in through the other, sessions hold in
//! both, and `medchain admin create` makes an administrator both know.

use crate::common;

use serde_json::{Value, json};
use std::time::Duration;

use common::serve::{gql, start_serve};

const PASSWORD: &str = "Tq9#vLm2!pXz7wRb";

fn code(answer: &Value) -> &str {
    answer["errors"][0]["extensions"]["code"]
        .as_str()
        .unwrap_or_else(|| panic!("expected an error: {answer}"))
}

async fn login(addr: &str, email: &str, password: &str) -> Value {
    gql(
        addr,
        None,
        "mutation($e: String!, $p: String!) { login(email: $e, password: $p) { token user { id role } } }",
        json!({"e": email, "p": password}),
    )
    .await
}

async fn me(addr: &str, token: &str) -> Value {
    gql(
        addr,
        Some(token),
        "{ me { id email role status } }",
        json!({}),
    )
    .await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_server_processes_on_one_database_share_accounts_and_sessions() {
    let db = common::test_db().await;
    let tmp = tempfile::tempdir().unwrap();
    let key = common::serve::master_key_file(tmp.path());

    let (_a, a) = start_serve(&db.url, &key, &tmp.path().join("a"), &[]);
    let (_b, b) = start_serve(&db.url, &key, &tmp.path().join("b"), &[]);
    assert_ne!(a, b);

    // Registered through A (which waits for its own view)…
    let registered = gql(
        &a,
        None,
        "mutation($i: RegisterInput!) { register(input: $i) { id email status } }",
        json!({"i": {"email": "Two.Proc@Example.org", "password": PASSWORD,
                     "name": "Twofold Process", "role": "PATIENT"}}),
    )
    .await;
    assert!(registered["errors"].is_null(), "{registered}");
    let id = registered["data"]["register"]["id"]
        .as_str()
        .unwrap()
        .to_owned();

    // …logs in through B.
    let session = login(&b, "two.proc@example.org", PASSWORD).await;
    assert!(session["errors"].is_null(), "{session}");
    assert_eq!(session["data"]["login"]["user"]["id"], id.as_str());
    let token = session["data"]["login"]["token"]
        .as_str()
        .unwrap()
        .to_owned();

    // The session works through both.
    for addr in [&a, &b] {
        let answer = me(addr, &token).await;
        assert_eq!(answer["data"]["me"]["id"], id.as_str(), "{addr}: {answer}");
        assert_eq!(answer["data"]["me"]["email"], "two.proc@example.org");
    }
    // A wrong password through A counts for the account B logs in.
    let wrong = login(&a, "two.proc@example.org", "not-the-password").await;
    assert_eq!(code(&wrong), "UNAUTHENTICATED");

    // Logged out through A, it is refused through B.
    let out = gql(&a, Some(&token), "mutation { logout }", json!({})).await;
    assert_eq!(out["data"]["logout"], true, "{out}");
    assert_eq!(code(&me(&b, &token).await), "UNAUTHENTICATED");

    // A password changed through A holds in B at once, though B has folded this user's
    // stream before (it keeps folded states and reads only what was appended since).
    const NEW_PASSWORD: &str = "Hj4$wQn8&cVb3kLm";
    let on_a = login(&a, "two.proc@example.org", PASSWORD).await;
    let on_a = on_a["data"]["login"]["token"].as_str().unwrap().to_owned();
    let changed = gql(
        &a,
        Some(&on_a),
        "mutation($c: String!, $n: String!) { changePassword(current: $c, new: $n) }",
        json!({"c": PASSWORD, "n": NEW_PASSWORD}),
    )
    .await;
    assert_eq!(changed["data"]["changePassword"], true, "{changed}");
    let old = login(&b, "two.proc@example.org", PASSWORD).await;
    assert_eq!(code(&old), "UNAUTHENTICATED", "{old}");
    let new = login(&b, "two.proc@example.org", NEW_PASSWORD).await;
    assert!(new["errors"].is_null(), "{new}");

    // An administrator made by `medchain admin create` (no terminal: the password from
    // MEDCHAIN_ADMIN_PASSWORD) logs in through either process.
    common::serve::admin_create(
        &db.url,
        &key,
        &tmp.path().join("cli"),
        "Chief@Example.org",
        PASSWORD,
    )
    .await;
    // The command does not wait for the servers' views; login reads the users view, so
    // wait until a server's projector has written the new row.
    let pool = commands::db::connect(&db.url, 1).await.unwrap();
    common::app::eventually(
        Duration::from_secs(20),
        "the admin in the users view",
        || {
            let pool = pool.clone();
            async move {
                let admins: i64 =
                    sqlx::query_scalar("SELECT count(*) FROM users WHERE role = 'ADMIN'")
                        .fetch_one(&pool)
                        .await
                        .unwrap();
                (admins == 1).then_some(())
            }
        },
    )
    .await;
    let admin = login(&b, "chief@example.org", PASSWORD).await;
    assert!(admin["errors"].is_null(), "{admin}");
    let admin_token = admin["data"]["login"]["token"].as_str().unwrap().to_owned();
    for addr in [&a, &b] {
        let answer = me(addr, &admin_token).await;
        assert_eq!(answer["data"]["me"]["role"], "ADMIN", "{addr}: {answer}");
        assert_eq!(answer["data"]["me"]["status"], "ACTIVE");
    }

    // Both processes are healthy.
    for addr in [&a, &b] {
        let health = reqwest::get(format!("http://{addr}/health")).await.unwrap();
        let status = health.status().as_u16();
        let body = health.text().await.unwrap_or_default();
        assert_eq!(status, 200, "{addr}: {body}");
    }
}
