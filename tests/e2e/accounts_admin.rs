//! Administrators deciding on accounts through the API: approve, reject, suspend, and
//! the list of users with its count and cursors.

use crate::common;

use common::app::{Cred, STRONG, TestApp};
use serde_json::json;

const DECIDE: &str = "mutation($id: UUID!, $reason: String!) { \
    rejectUser(userId: $id, reason: $reason) { id status } }";
const SUSPEND: &str = "mutation($id: UUID!, $reason: String!) { \
    suspendUser(userId: $id, reason: $reason) { id status } }";
const APPROVE: &str = "mutation($id: UUID!) { approveUser(userId: $id) { id status email } }";

fn id_of(user: &serde_json::Value) -> String {
    user["id"].as_str().unwrap().to_owned()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_approved_doctor_logs_in_and_a_rejected_one_is_told_so() {
    let app = TestApp::start().await;
    let (admin_id, admin) = app.create_admin("root@example.org", "Ada Admin").await;
    let dana = id_of(
        &app.register("dana@example.org", "Dana Doc", "DOCTOR", STRONG)
            .await,
    );
    let rolf = id_of(
        &app.register("rolf@example.org", "Rolf Doc", "DOCTOR", STRONG)
            .await,
    );

    // Only administrators decide.
    let patient = id_of(
        &app.register("pat@example.org", "Pat Lee", "PATIENT", STRONG)
            .await,
    );
    let pat = app.login("pat@example.org", STRONG).await;
    app.gql(Cred::Bearer(&pat), APPROVE, json!({"id": dana}))
        .await
        .expect_code("FORBIDDEN");
    app.gql(Cred::None, APPROVE, json!({"id": dana}))
        .await
        .expect_code("UNAUTHENTICATED");

    let approved = app
        .gql(Cred::Bearer(&admin), APPROVE, json!({"id": dana}))
        .await;
    assert_eq!(approved.ok()["approveUser"]["status"], "ACTIVE");
    assert_eq!(approved.ok()["approveUser"]["email"], "dana@example.org");
    app.login("dana@example.org", STRONG).await;
    // Twice is a conflict; an unknown id is not found.
    app.gql(Cred::Bearer(&admin), APPROVE, json!({"id": dana}))
        .await
        .expect_code("CONFLICT");
    app.gql(Cred::Bearer(&admin), APPROVE, json!({"id": patient}))
        .await
        .expect_code("CONFLICT");
    app.gql(
        Cred::Bearer(&admin),
        APPROVE,
        json!({"id": "00000000-0000-4000-8000-000000000000"}),
    )
    .await
    .expect_code("NOT_FOUND");

    // A rejection needs a reason, and is recorded with it and its actor.
    app.gql(
        Cred::Bearer(&admin),
        DECIDE,
        json!({"id": rolf, "reason": "  "}),
    )
    .await
    .expect_code("BAD_USER_INPUT");
    let rejected = app
        .gql(
            Cred::Bearer(&admin),
            DECIDE,
            json!({"id": rolf, "reason": "no licence number"}),
        )
        .await;
    assert_eq!(rejected.ok()["rejectUser"]["status"], "REJECTED");
    let message = app
        .try_login("rolf@example.org", STRONG)
        .await
        .expect_code("FORBIDDEN");
    assert!(
        message.contains("REJECTED"),
        "the state is named: {message}"
    );
    let (actor, payload): (Option<uuid::Uuid>, String) =
        sqlx::query_as("SELECT actor, payload::text FROM events WHERE type = 'UserRejected'")
            .fetch_one(&app.pool)
            .await
            .unwrap();
    assert_eq!(actor.unwrap().to_string(), admin_id);
    // The reason is about the person: sealed under their key, never in clear.
    assert!(!payload.contains("no licence number"), "{payload}");
    assert!(payload.contains("aes256gcm:"), "{payload}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn suspension_ends_every_session_at_once() {
    let app = TestApp::start().await;
    let (admin_id, admin) = app.create_admin("root@example.org", "Ada Admin").await;
    let pat = id_of(
        &app.register("pat@example.org", "Pat Lee", "PATIENT", STRONG)
            .await,
    );
    let first = app.login("pat@example.org", STRONG).await;
    let second = app.login("pat@example.org", STRONG).await;

    let suspended = app
        .gql(
            Cred::Bearer(&admin),
            SUSPEND,
            json!({"id": pat, "reason": "abuse"}),
        )
        .await;
    assert_eq!(suspended.ok()["suspendUser"]["status"], "SUSPENDED");
    for token in [&first, &second] {
        app.me(Cred::Bearer(token))
            .await
            .expect_code("UNAUTHENTICATED");
    }
    let message = app
        .try_login("pat@example.org", STRONG)
        .await
        .expect_code("FORBIDDEN");
    assert!(
        message.contains("SUSPENDED"),
        "the state is named: {message}"
    );
    // An administrator cannot suspend themself.
    app.gql(
        Cred::Bearer(&admin),
        SUSPEND,
        json!({"id": admin_id, "reason": "tired"}),
    )
    .await
    .expect_code("FORBIDDEN");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn users_are_listed_by_role_and_status_with_a_count_and_cursors() {
    let app = TestApp::start().await;
    let (_, admin) = app.create_admin("root@example.org", "Ada Admin").await;
    for i in 0..5 {
        app.clock.advance(std::time::Duration::from_secs(1));
        app.register(
            &format!("doc{i}@example.org"),
            &format!("Doc Number{i}"),
            "DOCTOR",
            STRONG,
        )
        .await;
    }
    for i in 0..3 {
        app.register(
            &format!("pat{i}@example.org"),
            &format!("Pat Number{i}"),
            "PATIENT",
            STRONG,
        )
        .await;
    }
    const LIST: &str = "query($role: Role, $status: AccountStatus, $after: String) { \
        users(role: $role, status: $status, first: 2, after: $after) { totalCount \
        edges { cursor node { email role status } } pageInfo { hasNextPage endCursor } } }";

    let mut seen = Vec::new();
    let mut after = serde_json::Value::Null;
    loop {
        let page = app
            .gql(
                Cred::Bearer(&admin),
                LIST,
                json!({"role": "DOCTOR", "status": "PENDING", "after": after}),
            )
            .await;
        let users = &page.ok()["users"];
        assert_eq!(users["totalCount"], 5);
        for edge in users["edges"].as_array().unwrap() {
            assert_eq!(edge["node"]["role"], "DOCTOR");
            seen.push(edge["node"]["email"].as_str().unwrap().to_owned());
        }
        if users["pageInfo"]["hasNextPage"] == false {
            break;
        }
        after = users["pageInfo"]["endCursor"].clone();
    }
    let expected: Vec<String> = (0..5).map(|i| format!("doc{i}@example.org")).collect();
    assert_eq!(seen, expected);

    let all = app.gql(Cred::Bearer(&admin), LIST, json!({})).await;
    assert_eq!(all.ok()["users"]["totalCount"], 9);

    let pat = app.login("pat0@example.org", STRONG).await;
    app.gql(Cred::Bearer(&pat), LIST, json!({}))
        .await
        .expect_code("FORBIDDEN");
    app.gql(Cred::Bearer(&admin), LIST, json!({"after": "junk"}))
        .await
        .expect_code("BAD_USER_INPUT");
}

const REQUEST: &str = "mutation($name: String, $phone: String) { \
    requestProfileChange(input: {name: $name, phone: $phone}) { id name phone status } }";
const DECIDE_CHANGE: &str = "mutation($id: UUID!, $approve: Boolean!, $reason: String) { \
    decideProfileChange(id: $id, approve: $approve, reason: $reason) { \
    id status reason decidedAt user { name phone } } }";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_profile_change_waits_for_an_administrator() {
    let app = TestApp::start().await;
    let (_, admin) = app.create_admin("root@example.org", "Ada Admin").await;
    app.register("pat@example.org", "Pat Lee", "PATIENT", STRONG)
        .await;
    let pat = app.login("pat@example.org", STRONG).await;

    let asked = app
        .gql(
            Cred::Bearer(&pat),
            REQUEST,
            json!({"name": "Patricia Lee", "phone": "+44 20 7946 0001"}),
        )
        .await;
    let change = asked.ok()["requestProfileChange"].clone();
    assert_eq!(change["status"], "PENDING");
    assert_eq!(change["name"], "Patricia Lee");
    // A second while one waits is a conflict; nothing at all is bad input.
    app.gql(Cred::Bearer(&pat), REQUEST, json!({"name": "P. Lee"}))
        .await
        .expect_code("CONFLICT");
    app.gql(Cred::Bearer(&pat), REQUEST, json!({}))
        .await
        .expect_code("BAD_USER_INPUT");

    // The profile is unchanged until decided; the user sees the pending change.
    let me = app
        .gql(
            Cred::Bearer(&pat),
            "{ me { name pendingProfileChange { id name } } }",
            json!({}),
        )
        .await;
    assert_eq!(me.ok()["me"]["name"], "Pat Lee");
    assert_eq!(me.ok()["me"]["pendingProfileChange"]["id"], change["id"]);

    let list = app
        .gql(
            Cred::Bearer(&admin),
            "{ pendingProfileChanges { edges { node { id name user { email } } } } }",
            json!({}),
        )
        .await;
    let edges = list.ok()["pendingProfileChanges"]["edges"]
        .as_array()
        .unwrap()
        .clone();
    assert_eq!(edges.len(), 1);
    assert_eq!(edges[0]["node"]["user"]["email"], "pat@example.org");
    app.gql(
        Cred::Bearer(&pat),
        "{ pendingProfileChanges { edges { cursor } } }",
        json!({}),
    )
    .await
    .expect_code("FORBIDDEN");

    // Only an admin decides; a rejection needs a reason.
    app.gql(
        Cred::Bearer(&pat),
        DECIDE_CHANGE,
        json!({"id": change["id"], "approve": true}),
    )
    .await
    .expect_code("FORBIDDEN");
    app.gql(
        Cred::Bearer(&admin),
        DECIDE_CHANGE,
        json!({"id": change["id"], "approve": false}),
    )
    .await
    .expect_code("BAD_USER_INPUT");
    let approved = app
        .gql(
            Cred::Bearer(&admin),
            DECIDE_CHANGE,
            json!({"id": change["id"], "approve": true}),
        )
        .await;
    let decided = &approved.ok()["decideProfileChange"];
    assert_eq!(decided["status"], "APPROVED");
    assert_eq!(decided["user"]["name"], "Patricia Lee");
    assert_eq!(decided["user"]["phone"], "+44 20 7946 0001");
    app.gql(
        Cred::Bearer(&admin),
        DECIDE_CHANGE,
        json!({"id": change["id"], "approve": true}),
    )
    .await
    .expect_code("NOT_FOUND");

    // A rejected one leaves the profile and says why.
    let second = app
        .gql(Cred::Bearer(&pat), REQUEST, json!({"name": "Someone Else"}))
        .await;
    let id = second.ok()["requestProfileChange"]["id"].clone();
    let rejected = app
        .gql(
            Cred::Bearer(&admin),
            DECIDE_CHANGE,
            json!({"id": id, "approve": false, "reason": "not your legal name"}),
        )
        .await;
    let decided = &rejected.ok()["decideProfileChange"];
    assert_eq!(decided["status"], "REJECTED");
    assert_eq!(decided["reason"], "not your legal name");
    assert_eq!(decided["user"]["name"], "Patricia Lee");
    let me = app
        .gql(
            Cred::Bearer(&pat),
            "{ me { name pendingProfileChange { id } } }",
            json!({}),
        )
        .await;
    assert_eq!(
        me.ok()["me"]["pendingProfileChange"],
        serde_json::Value::Null
    );

    // A rebuild from the ledger gives the same rows, byte for byte.
    let digest = |table: &'static str| {
        let pool = app.pool.clone();
        async move {
            sqlx::query_scalar::<_, Option<String>>(sqlx::AssertSqlSafe(format!(
                "SELECT md5(string_agg(t::text, ',' ORDER BY t.id)) FROM {table} t"
            )))
            .fetch_one(&pool)
            .await
            .unwrap()
        }
    };
    let before = (digest("users").await, digest("profile_changes").await);
    projections::rebuild(&app.pool, &projections::users::UsersProjector)
        .await
        .unwrap();
    assert_eq!(
        (digest("users").await, digest("profile_changes").await),
        before
    );

    // The names asked for are sealed in the ledger too.
    let clear: i64 = sqlx::query_scalar(
        "SELECT count(*) FROM events WHERE payload::text ILIKE '%Patricia%' OR payload::text ILIKE '%Someone%'",
    )
    .fetch_one(&app.pool)
    .await
    .unwrap();
    assert_eq!(clear, 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_doctor_directory_lists_active_doctors_by_name_ignoring_case_and_accents() {
    let app = TestApp::start().await;
    let (_, admin) = app.create_admin("root@example.org", "Ada Admin").await;
    let mut ids = Vec::new();
    for (email, name) in [
        ("jose@example.org", "José Álvarez"),
        ("anna@example.org", "Anna Müller"),
        ("otto@example.org", "Otto Pending"),
    ] {
        app.clock.advance(std::time::Duration::from_secs(1));
        ids.push(id_of(&app.register(email, name, "DOCTOR", STRONG).await));
    }
    for id in &ids[..2] {
        app.gql(Cred::Bearer(&admin), APPROVE, json!({"id": id}))
            .await
            .ok();
    }
    app.register("pat@example.org", "Pat Lee", "PATIENT", STRONG)
        .await;
    let pat = app.login("pat@example.org", STRONG).await;
    const DIRECTORY: &str = "query($q: String) { doctors(search: $q) { totalCount \
        edges { node { name email role status } } } }";

    let names = |answer: common::app::Gql| -> Vec<String> {
        answer.ok()["doctors"]["edges"]
            .as_array()
            .unwrap()
            .iter()
            .map(|e| e["node"]["name"].as_str().unwrap().to_owned())
            .collect()
    };
    let all = app.gql(Cred::Bearer(&pat), DIRECTORY, json!({})).await;
    assert_eq!(all.ok()["doctors"]["totalCount"], 2);
    // A patient sees names, not addresses.
    assert_eq!(
        all.ok()["doctors"]["edges"][0]["node"]["email"],
        serde_json::Value::Null
    );
    assert_eq!(names(all), ["José Álvarez", "Anna Müller"]);
    assert_eq!(
        names(
            app.gql(Cred::Bearer(&pat), DIRECTORY, json!({"q": "JOSE alv"}))
                .await
        ),
        ["José Álvarez"]
    );
    assert_eq!(
        names(
            app.gql(Cred::Bearer(&pat), DIRECTORY, json!({"q": "muller"}))
                .await
        ),
        ["Anna Müller"]
    );
    assert!(
        names(
            app.gql(Cred::Bearer(&pat), DIRECTORY, json!({"q": "otto"}))
                .await
        )
        .is_empty()
    );
    app.gql(Cred::None, DIRECTORY, json!({}))
        .await
        .expect_code("UNAUTHENTICATED");
}

/// An administrator's own profile change waits for another administrator.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_administrator_cannot_decide_their_own_profile_change() {
    let app = TestApp::start().await;
    let (_, admin) = app.create_admin("root@example.org", "Ada Admin").await;
    let (_, other) = app.create_admin("second@example.org", "Bea Admin").await;
    let change = app
        .gql(
            Cred::Bearer(&admin),
            "mutation { requestProfileChange(input: {name: \"Ada Lovelace\"}) { id } }",
            json!({}),
        )
        .await;
    let id = change.ok()["requestProfileChange"]["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let decide = "mutation($id: UUID!) { decideProfileChange(id: $id, approve: true) { status } }";
    let own = app
        .gql(Cred::Bearer(&admin), decide, json!({"id": id}))
        .await;
    let message = own.expect_code("FORBIDDEN");
    assert!(message.contains("own profile change"), "{message}");
    assert_eq!(app.count_events("ProfileChangeDecided").await, 0);
    let decided = app
        .gql(Cred::Bearer(&other), decide, json!({"id": id}))
        .await;
    assert_eq!(decided.ok()["decideProfileChange"]["status"], "APPROVED");
}
