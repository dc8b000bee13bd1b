//! Erasure by crypto-shredding, through the API: the person's name, e-mail and phone read
//! as null and the account as ERASED in every view and after a rebuild; the address can
//! register again; the ledger still verifies.

use crate::common;

use common::app::{Cred, STRONG, TestApp};
use serde_json::json;

const ERASE: &str = "mutation($id: UUID!, $reason: String!) { \
    eraseUser(userId: $id, reason: $reason) { id status name email phone } }";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_erased_person_is_unreadable_everywhere_and_the_ledger_still_verifies() {
    let app = TestApp::start().await;
    let (admin_id, admin) = app.create_admin("root@example.org", "Ada Admin").await;
    let pat = app
        .try_register(
            "pat@example.org",
            "Pat Lee",
            "PATIENT",
            STRONG,
            Some("+44 20 7946 0002"),
        )
        .await;
    let pat_id = pat.ok()["register"]["id"].as_str().unwrap().to_owned();
    let token = app.login("pat@example.org", STRONG).await;

    // Not by a patient, not without a reason, not oneself.
    app.gql(
        Cred::Bearer(&token),
        ERASE,
        json!({"id": pat_id, "reason": "x"}),
    )
    .await
    .expect_code("FORBIDDEN");
    app.gql(
        Cred::Bearer(&admin),
        ERASE,
        json!({"id": pat_id, "reason": " "}),
    )
    .await
    .expect_code("BAD_USER_INPUT");
    app.gql(
        Cred::Bearer(&admin),
        ERASE,
        json!({"id": admin_id, "reason": "tired"}),
    )
    .await
    .expect_code("FORBIDDEN");

    let erased = app
        .gql(
            Cred::Bearer(&admin),
            ERASE,
            json!({"id": pat_id, "reason": "asked to be forgotten"}),
        )
        .await;
    let user = &erased.ok()["eraseUser"];
    assert_eq!(user["status"], "ERASED");
    for field in ["name", "email", "phone"] {
        assert_eq!(user[field], serde_json::Value::Null, "{field}");
    }
    // Sessions end; the address is unknown; asking again is harmless.
    app.me(Cred::Bearer(&token))
        .await
        .expect_code("UNAUTHENTICATED");
    app.try_login("pat@example.org", STRONG)
        .await
        .expect_code("UNAUTHENTICATED");
    let again = app
        .gql(
            Cred::Bearer(&admin),
            ERASE,
            json!({"id": pat_id, "reason": "asked to be forgotten"}),
        )
        .await;
    assert_eq!(again.ok()["eraseUser"]["status"], "ERASED");
    let erasures: i64 = sqlx::query_scalar(
        "SELECT count(*) FROM events WHERE type = 'UserErased' AND actor = $1::uuid \
         AND payload->>'basis' = 'OTHER' AND payload->>'reason' LIKE 'aes256gcm:%'",
    )
    .bind(&admin_id)
    .fetch_one(&app.pool)
    .await
    .unwrap();
    assert_eq!(erasures, 1);

    // Nothing readable is left anywhere in the database: every row of every table, as
    // text, is free of the name, the address and the phone.
    let tables: Vec<String> =
        sqlx::query_scalar("SELECT tablename::text FROM pg_tables WHERE schemaname = 'public'")
            .fetch_all(&app.pool)
            .await
            .unwrap();
    for table in tables {
        let rows: Vec<String> = sqlx::query_scalar(sqlx::AssertSqlSafe(format!(
            "SELECT t::text FROM \"{table}\" t"
        )))
        .fetch_all(&app.pool)
        .await
        .unwrap();
        for row in rows {
            let row = row.to_lowercase();
            for plain in ["pat lee", "pat@example.org", "7946 0002"] {
                assert!(!row.contains(plain), "{plain} in {table}: {row}");
            }
        }
    }

    // The address registers again, as a new person.
    let new = app
        .register("pat@example.org", "Pat Lee", "PATIENT", STRONG)
        .await;
    assert_ne!(new["id"].as_str().unwrap(), pat_id);
    app.login("pat@example.org", STRONG).await;

    // Still erased in the list, and after a rebuild from the ledger.
    let list = "{ users(role: PATIENT, status: ERASED) { totalCount edges { node { id name email phone } } } }";
    let check = |answer: common::app::Gql| {
        let users = answer.ok()["users"].clone();
        assert_eq!(users["totalCount"], 1);
        let node = &users["edges"][0]["node"];
        assert_eq!(node["id"], pat_id.as_str());
        assert_eq!(
            (&node["name"], &node["email"], &node["phone"]),
            (&json!(null), &json!(null), &json!(null))
        );
    };
    check(app.gql(Cred::Bearer(&admin), list, json!({})).await);
    projections::rebuild(&app.pool, &projections::users::UsersProjector)
        .await
        .unwrap();
    check(app.gql(Cred::Bearer(&admin), list, json!({})).await);

    let verification = commands::ledger::verify_ledger(&app.pool, None)
        .await
        .unwrap();
    assert!(
        verification.outcome.is_ok(),
        "{:?}",
        verification.outcome.err()
    );
}

/// The rule against erasing the last active administrator counts them from their own
/// streams: with two active, one may erase the other.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_administrator_erases_another_while_two_are_active() {
    let app = TestApp::start().await;
    let (_, ada) = app.create_admin("ada@example.org", "Ada Admin").await;
    let (bob_id, _) = app.create_admin("bob@example.org", "Bob Admin").await;
    let erased = app
        .gql(
            Cred::Bearer(&ada),
            ERASE,
            json!({"id": bob_id, "reason": "left the hospital"}),
        )
        .await;
    assert_eq!(erased.ok()["eraseUser"]["status"], "ERASED");
}

/// The outbox is private (0700, files 0600): it holds live reset links. Erasing a person
/// purges their mail from it; others' mail stays.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_outbox_is_private_and_an_erasure_purges_the_person_s_mail() {
    use std::os::unix::fs::PermissionsExt as _;
    let app = TestApp::start().await;
    let (_, admin) = app.create_admin("root@example.org", "Ada Admin").await;
    let pat = app
        .register("pat@example.org", "Pat Lee", "PATIENT", STRONG)
        .await;
    app.register("bo@example.org", "Bo Reyes", "PATIENT", STRONG)
        .await;
    let ask = "mutation($e: String!) { requestPasswordReset(email: $e) }";
    for email in ["pat@example.org", "bo@example.org"] {
        app.gql(Cred::None, ask, json!({"e": email})).await.ok();
    }
    let files = || -> Vec<std::path::PathBuf> {
        std::fs::read_dir(app.outbox.path())
            .unwrap()
            .map(|e| e.unwrap().path())
            .collect()
    };
    common::app::eventually(std::time::Duration::from_secs(10), "two mails", || {
        let n = files().len();
        async move { (n == 2).then_some(()) }
    })
    .await;
    let mode = |p: &std::path::Path| std::fs::metadata(p).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode(app.outbox.path()), 0o700);
    for file in files() {
        assert_eq!(mode(&file), 0o600, "{}", file.display());
    }
    let erased = app
        .gql(
            Cred::Bearer(&admin),
            ERASE,
            json!({"id": pat["id"], "reason": "asked to be forgotten"}),
        )
        .await;
    erased.ok();
    let left: Vec<String> = files()
        .iter()
        .map(|f| std::fs::read_to_string(f).unwrap())
        .collect();
    assert_eq!(left.len(), 1, "only Bo's mail is left");
    assert!(left[0].contains("bo@example.org") && !left[0].contains("pat@example.org"));
}

/// Reasons about a person are sealed under their key: an administrator reading the ledger
/// (through the API or the table itself) finds none in clear, only an erasure's basis.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_administrator_reading_the_ledger_finds_no_reason_in_clear() {
    let app = TestApp::start().await;
    let (_, admin) = app.create_admin("root@example.org", "Ada Admin").await;
    let doc = app
        .register("doc@example.org", "Dr Who", "DOCTOR", STRONG)
        .await;
    let pat = app
        .register("pat@example.org", "Pat Lee", "PATIENT", STRONG)
        .await;
    let other = app
        .register("bo@example.org", "Bo Reyes", "PATIENT", STRONG)
        .await;
    let pat_token = app.login("pat@example.org", STRONG).await;
    let record =
        common::records::upload_ok(&app, &pat_token, "Lab", common::records::pdf("R", 2048)).await;
    let run = |token: String, query: &'static str, vars: serde_json::Value| {
        let app = &app;
        async move {
            app.gql(Cred::Bearer(&token), query, vars)
                .await
                .ok()
                .clone()
        }
    };
    run(admin.clone(), "mutation($id: UUID!) { rejectUser(userId: $id, reason: \"MARKER-REJECT no licence\") { id } }", json!({"id": doc["id"]})).await;
    let erased = run(pat_token.clone(), "mutation($id: UUID!) { eraseRecord(recordId: $id, reason: \"MARKER-RECORD my HIV test came back positive\") { status } }", json!({"id": record})).await;
    assert_eq!(erased["eraseRecord"]["status"], "ERASED");
    run(admin.clone(), "mutation($id: UUID!) { suspendUser(userId: $id, reason: \"MARKER-SUSPEND abuse\") { id } }", json!({"id": pat["id"]})).await;
    run(admin.clone(), "mutation($id: UUID!) { eraseUser(userId: $id, reason: \"MARKER-ERASE asked\", basis: LEGAL_ORDER) { status } }", json!({"id": other["id"]})).await;

    let ledger = app
        .gql(
            Cred::Bearer(&admin),
            "{ ledger(first: 100) { edges { node { type payload } } } }",
            json!({}),
        )
        .await;
    let text = ledger.ok().to_string();
    assert!(!text.contains("MARKER"), "a reason in clear: {text}");
    assert!(
        text.contains("PATIENT_REQUEST") && text.contains("LEGAL_ORDER"),
        "the bases are in clear: {text}"
    );
    let (n,): (i64,) =
        sqlx::query_as("SELECT count(*) FROM events WHERE payload::text LIKE '%MARKER%'")
            .fetch_one(&app.pool)
            .await
            .unwrap();
    assert_eq!(n, 0);
}
