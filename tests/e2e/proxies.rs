//! Caregiver proxies end to end (issue 25, the proxies half, READ scope): a patient
//! invites an address; the grant takes effect only when a signed-in account redeems the
//! mailed token (registering with the address is not enough, and a token works once);
//! the proxy then sees the patient, lists and downloads their records, each read on the
//! patient's access log with the proxy named, "on behalf of the patient"; chosen records
//! bound it; revocation and expiry end it; replay answers for proxies.

use crate::common;

use commands::Clock as _;
use common::app::{Cred, Gql, STRONG, TestApp};
use common::records::{access_log, cast, content, pdf, person, upload_ok};
use serde_json::{Value, json};
use std::time::Duration;

pub(crate) const GRANT: &str = "mutation($e: String!, $s: ProxyScope!, $r: [UUID!], $x: DateTime) { \
    grantProxy(email: $e, scope: $s, recordIds: $r, expiresAt: $x) { id email scope active proxy { id } } }";

async fn grant(
    app: &TestApp,
    token: &str,
    email: &str,
    records: Option<Vec<&str>>,
    hours: Option<i64>,
) -> Gql {
    let expires = hours.map(|h| app.clock.now().plus_micros(h * 3_600_000_000).to_string());
    app.gql(
        Cred::Bearer(token),
        GRANT,
        json!({"e": email, "s": "READ", "r": records, "x": expires}),
    )
    .await
}

/// The token of the newest invitation mailed to `email` (quoted-printable undone).
pub(crate) fn invitation_to(app: &TestApp, email: &str) -> String {
    let mut mails: Vec<(std::time::SystemTime, String)> = std::fs::read_dir(app.outbox.path())
        .unwrap()
        .map(|e| {
            let e = e.unwrap();
            let text = std::fs::read_to_string(e.path()).unwrap();
            (e.metadata().unwrap().modified().unwrap(), text)
        })
        .filter(|(_, text)| text.contains(&format!("To: {email}")))
        .collect();
    mails.sort();
    let mail = &mails.last().expect("an invitation was mailed").1;
    let joined = mail
        .replace("=\r\n", "")
        .replace("=\n", "")
        .replace("=3D", "=");
    let start = joined
        .find("/proxy/accept?token=")
        .expect("an invitation link")
        + "/proxy/accept?token=".len();
    joined[start..]
        .chars()
        .take_while(|c| c.is_ascii_alphanumeric() || *c == '-' || *c == '_')
        .collect()
}

pub(crate) async fn accept(app: &TestApp, token: &str, invitation: &str) -> Gql {
    app.gql(
        Cred::Bearer(token),
        "mutation($t: String!) { acceptProxyInvitation(token: $t) { id active patient { id } proxy { id } } }",
        json!({"t": invitation}),
    )
    .await
}

async fn records_of(app: &TestApp, token: &str, patient: &str) -> Gql {
    app.gql(
        Cred::Bearer(token),
        "query($p: UUID!) { recordsOf(patientId: $p) { totalCount edges { node { id title } } } }",
        json!({"p": patient}),
    )
    .await
}

fn titles(answer: &Gql) -> Vec<String> {
    let mut t: Vec<String> = answer.ok()["recordsOf"]["edges"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["node"]["title"].as_str().unwrap().to_owned())
        .collect();
    t.sort();
    t
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_invitation_redeemed_makes_a_proxy_who_reads_for_the_patient_until_revoked() {
    let app = TestApp::start().await;
    let c = cast(&app).await;
    let lab = upload_ok(&app, &c.patient.token, "Lab", pdf("lab", 1_000)).await;
    let scan = upload_ok(&app, &c.patient.token, "Scan", pdf("scan", 1_000)).await;

    // Only a patient grants; the answer is the same whether or not the address has an
    // account, and nothing takes effect yet.
    grant(&app, &c.doctor.token, "kin@example.org", None, None)
        .await
        .expect_code("FORBIDDEN");
    grant(&app, &c.patient.token, "not an address", None, None)
        .await
        .expect_code("BAD_USER_INPUT");
    let made = grant(&app, &c.patient.token, "kin@example.org", None, None).await;
    let made = &made.ok()["grantProxy"];
    assert_eq!(made["email"], "kin@example.org");
    assert_eq!(
        (made["proxy"].clone(), made["active"].clone()),
        (Value::Null, json!(false))
    );
    let invitation = invitation_to(&app, "kin@example.org");
    let in_ledger: i64 = sqlx::query_scalar(
        "SELECT count(*) FROM events WHERE payload::text LIKE '%kin@example.org%'",
    )
    .fetch_one(&app.pool)
    .await
    .unwrap();
    assert_eq!(in_ledger, 0, "the address is sealed on the ledger");

    // Registering with the address is not enough.
    let kin = person(&app, &c.admin, "kin@example.org", "Kim Kin", "PATIENT").await;
    records_of(&app, &kin.token, &c.patient.id)
        .await
        .expect_code("FORBIDDEN");
    assert_eq!(content(&app, Some(&kin.token), &lab, false).await.0, 404);

    // Redeemed by a signed-in account, once.
    app.clock.advance(Duration::from_secs(1));
    let before = app.clock.now();
    app.clock.advance(Duration::from_secs(1));
    let accepted = accept(&app, &kin.token, &invitation).await;
    assert_eq!(accepted.ok()["acceptProxyInvitation"]["active"], true);
    let other = person(&app, &c.admin, "other@example.org", "Otto Other", "PATIENT").await;
    accept(&app, &other.token, &invitation)
        .await
        .expect_code("BAD_USER_INPUT");
    accept(&app, &c.patient.token, "not-a-token")
        .await
        .expect_code("BAD_USER_INPUT");

    // The proxy sees the patient and their records, and reads them.
    let mine = app
        .gql(
            Cred::Bearer(&kin.token),
            "{ patientsIProxy { id } }",
            json!({}),
        )
        .await;
    assert_eq!(mine.ok()["patientsIProxy"][0]["id"], c.patient.id.as_str());
    assert_eq!(
        titles(&records_of(&app, &kin.token, &c.patient.id).await),
        ["Lab", "Scan"]
    );
    let (status, _, bytes) = content(&app, Some(&kin.token), &lab, false).await;
    assert_eq!((status, bytes.unwrap()), (200, pdf("lab", 1_000)));
    let log = access_log(&app, &c.patient.token, &lab).await;
    assert_eq!(
        (log[0].0.as_str(), log[0].1.as_deref()),
        ("DOWNLOADED", Some(kin.id.as_str()))
    );
    app.view_settled("notifications").await;
    let told = app
        .gql(
            Cred::Bearer(&kin.token),
            "{ notifications(first: 10) { edges { node { kind } } } }",
            json!({}),
        )
        .await;
    assert!(
        told.ok()["notifications"]["edges"]
            .as_array()
            .unwrap()
            .iter()
            .any(|e| e["node"]["kind"] == "PROXY_GRANTED")
    );

    // A READ proxy neither shares nor erases for the patient.
    app.gql(
        Cred::Bearer(&kin.token),
        "mutation($r: UUID!, $d: UUID!) { shareRecord(recordId: $r, doctorId: $d) { id } }",
        json!({"r": lab, "d": c.doctor.id}),
    )
    .await
    .expect_code("FORBIDDEN");
    app.gql(
        Cred::Bearer(&kin.token),
        "mutation($r: UUID!) { eraseRecord(recordId: $r, reason: \"x\") { id } }",
        json!({"r": lab}),
    )
    .await
    .expect_code("FORBIDDEN");
    app.clock.advance(Duration::from_secs(1));
    let during = app.clock.now();
    app.clock.advance(Duration::from_secs(1));

    // Revoked: at once, the proxy reads and lists nothing more.
    let id = accepted.ok()["acceptProxyInvitation"]["id"]
        .as_str()
        .unwrap()
        .to_owned();
    app.gql(
        Cred::Bearer(&kin.token),
        "mutation($id: UUID!) { revokeProxy(id: $id) { id } }",
        json!({"id": id}),
    )
    .await
    .expect_code("NOT_FOUND");
    let revoked = app
        .gql(
            Cred::Bearer(&c.patient.token),
            "mutation($id: UUID!) { revokeProxy(id: $id) { active revokedAt } }",
            json!({"id": id}),
        )
        .await;
    assert_eq!(revoked.ok()["revokeProxy"]["active"], false);
    assert_eq!(content(&app, Some(&kin.token), &scan, false).await.0, 404);
    records_of(&app, &kin.token, &c.patient.id)
        .await
        .expect_code("FORBIDDEN");
    app.clock.advance(Duration::from_secs(1));

    // Replay: the proxy could read before revocation, not before acceptance or after.
    let ids = |v: Vec<String>| v;
    let who = |at| crate::compliance::who_could_read(&app, &c, &lab, at);
    assert_eq!(
        ids(who(before).await),
        crate::compliance::sorted(&[&c.patient.id])
    );
    assert_eq!(
        who(during).await,
        crate::compliance::sorted(&[&c.patient.id, &kin.id])
    );
    assert_eq!(
        who(app.clock.now()).await,
        crate::compliance::sorted(&[&c.patient.id])
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn chosen_records_and_an_expiry_bound_a_grant() {
    let app = TestApp::start().await;
    let c = cast(&app).await;
    let lab = upload_ok(&app, &c.patient.token, "Lab", pdf("lab", 1_000)).await;
    let diary = upload_ok(&app, &c.patient.token, "Diary", pdf("diary", 1_000)).await;
    let kin = person(&app, &c.admin, "kin@example.org", "Kim Kin", "PATIENT").await;
    grant(
        &app,
        &c.patient.token,
        "kin@example.org",
        Some(vec![&lab]),
        Some(1),
    )
    .await
    .ok();
    accept(&app, &kin.token, &invitation_to(&app, "kin@example.org"))
        .await
        .ok();
    assert_eq!(
        titles(&records_of(&app, &kin.token, &c.patient.id).await),
        ["Lab"]
    );
    assert_eq!(content(&app, Some(&kin.token), &lab, false).await.0, 200);
    assert_eq!(content(&app, Some(&kin.token), &diary, false).await.0, 404);

    // An hour later the grant has ended (signed in again: the session idled out too).
    app.clock.advance(Duration::from_secs(3600));
    let kin = app.login("kin@example.org", STRONG).await;
    assert_eq!(content(&app, Some(&kin), &lab, false).await.0, 404);
    records_of(&app, &kin, &c.patient.id)
        .await
        .expect_code("FORBIDDEN");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_manage_proxy_uploads_and_shares_for_the_patient_but_never_erases() {
    let app = TestApp::start().await;
    let c = cast(&app).await;
    let lab = upload_ok(&app, &c.patient.token, "Lab", pdf("lab", 1_000)).await;
    let kin = person(&app, &c.admin, "kin@example.org", "Kim Kin", "PATIENT").await;
    app.gql(
        Cred::Bearer(&c.patient.token),
        GRANT,
        json!({"e": "kin@example.org", "s": "MANAGE"}),
    )
    .await
    .ok();
    accept(&app, &kin.token, &invitation_to(&app, "kin@example.org"))
        .await
        .ok();

    // Uploads into the patient's file: the patient owns it, the proxy is its author.
    let (status, body) = common::records::upload_for(
        &app,
        &kin.token,
        Some(&c.patient.id),
        "Vaccination card",
        "card.pdf",
        pdf("card", 800),
    )
    .await;
    assert_eq!(status, 201, "{body}");
    let card = body["id"].as_str().unwrap().to_owned();
    let mine = app
        .gql(
            Cred::Bearer(&c.patient.token),
            "query($id: UUID!) { record(id: $id) { owner { id } author { id } } }",
            json!({"id": card}),
        )
        .await;
    assert_eq!(mine.ok()["record"]["owner"]["id"], c.patient.id.as_str());
    assert_eq!(mine.ok()["record"]["author"]["id"], kin.id.as_str());
    assert_eq!(content(&app, Some(&kin.token), &card, false).await.0, 200);

    // Shares and revokes for the patient, named on the log as the one who did.
    let shared = app
        .gql(
            Cred::Bearer(&kin.token),
            "mutation($r: UUID!, $d: UUID!) { shareRecord(recordId: $r, doctorId: $d) { id } }",
            json!({"r": lab, "d": c.doctor.id}),
        )
        .await;
    let share = shared.ok()["shareRecord"]["id"]
        .as_str()
        .unwrap()
        .to_owned();
    assert_eq!(
        content(&app, Some(&c.doctor.token), &lab, false).await.0,
        200
    );
    app.gql(
        Cred::Bearer(&kin.token),
        "mutation($s: UUID!) { revokeShare(shareId: $s) { id } }",
        json!({"s": share}),
    )
    .await
    .ok();
    assert_eq!(
        content(&app, Some(&c.doctor.token), &lab, false).await.0,
        403
    );
    let log = access_log(&app, &c.patient.token, &lab).await;
    let by_kin: Vec<&str> = log
        .iter()
        .filter(|(_, actor, _)| actor.as_deref() == Some(kin.id.as_str()))
        .map(|(a, _, _)| a.as_str())
        .collect();
    assert_eq!(by_kin, ["REVOKED", "SHARED"]);
    let details = app
        .gql(
            Cred::Bearer(&c.patient.token),
            "query($id: UUID!) { record(id: $id) { accessLog(first: 10) { edges { node { action detail } } } } }",
            json!({"id": lab}),
        )
        .await;
    let acted: Vec<&Value> = details.ok()["record"]["accessLog"]["edges"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["node"]["action"] == "SHARED" || e["node"]["action"] == "REVOKED")
        .collect();
    assert_eq!(acted.len(), 2);
    for edge in acted {
        let detail = edge["node"]["detail"].as_str().unwrap();
        assert!(detail.ends_with("on behalf of the patient"), "{detail}");
    }
    // The patient's "what each caregiver did", across records.
    app.view_settled("records").await;
    let did = app
        .gql(
            Cred::Bearer(&c.patient.token),
            "{ proxyGrants { actions(first: 20) { edges { node { action record { title } } } } } }",
            json!({}),
        )
        .await;
    let actions: Vec<&str> = did.ok()["proxyGrants"][0]["actions"]["edges"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["node"]["action"].as_str().unwrap())
        .collect();
    assert_eq!(actions, ["REVOKED", "SHARED", "DOWNLOADED", "UPLOADED"]);
    let theirs = app
        .gql(
            Cred::Bearer(&kin.token),
            "{ proxyGrants { actions { edges { node { action } } } } }",
            json!({}),
        )
        .await;
    assert_eq!(theirs.ok()["proxyGrants"][0]["actions"], Value::Null);

    // Never erases, never sees the patient's security settings.
    app.gql(
        Cred::Bearer(&kin.token),
        "mutation($r: UUID!) { eraseRecord(recordId: $r, reason: \"x\") { id } }",
        json!({"r": lab}),
    )
    .await
    .expect_code("FORBIDDEN");
    let sessions = app
        .gql(Cred::Bearer(&kin.token), "{ mySessions { id } }", json!({}))
        .await;
    assert_eq!(
        sessions.ok()["mySessions"].as_array().unwrap().len(),
        1,
        "only their own"
    );
}
