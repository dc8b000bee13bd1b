//! Care between doctors end to end (issue 24): a doctor adds a record to a patient's file
//! (the patient owns it, is told, and can revoke the doctor's share of it); a referral
//! approved lets a second doctor read, a declined one does not, and its note is never in
//! clear; emergency access needs a second factor, reads everything of the patient while
//! open, tells the patient at once (live), is reviewed by an administrator, ends at its
//! time (the injected clock), and `whoCouldRead` replays all of it at any moment.

use crate::common;

use crate::compliance::{sorted, who_could_read};
use commands::{Clock as _, accounts::totp::TotpSecret};
use common::app::{Cred, Gql, STRONG, TestApp, eventually};
use common::records::{Cast, Person, access_log, cast, content, pdf, person, share, upload_ok};
use serde_json::{Value, json};
use std::time::Duration;

/// `POST /api/records` for `patient`'s file, the `patient` field first.
async fn add_for(
    app: &TestApp,
    token: &str,
    patient: &str,
    title: &str,
    bytes: Vec<u8>,
) -> (u16, Value) {
    common::records::upload_for(app, token, Some(patient), title, "report.pdf", bytes).await
}

/// The caller's notifications' kinds, newest first, once the view has settled.
async fn notice_kinds(app: &TestApp, token: &str) -> Vec<String> {
    app.view_settled("notifications").await;
    let answer = app
        .gql(
            Cred::Bearer(token),
            "{ notifications(first: 50) { edges { node { kind message } } } }",
            json!({}),
        )
        .await;
    answer.ok()["notifications"]["edges"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["node"]["kind"].as_str().unwrap().to_owned())
        .collect()
}

fn seconds(app: &TestApp) -> u64 {
    (app.clock.now().as_micros() / 1_000_000) as u64
}

/// Turns TOTP on for the person and signs them in again with a code: a session that
/// proved a second factor, and the secret for signing in so again.
pub(crate) async fn with_second_factor(
    app: &TestApp,
    email: &str,
    token: &str,
) -> (String, TotpSecret) {
    let begun = app
        .gql(
            Cred::Bearer(token),
            "mutation { totpEnrollBegin { secret } }",
            json!({}),
        )
        .await;
    let secret =
        TotpSecret::from_base32(begun.ok()["totpEnrollBegin"]["secret"].as_str().unwrap()).unwrap();
    app.gql(
        Cred::Bearer(token),
        "mutation($c: String!) { totpEnrollFinish(code: $c) }",
        json!({"c": secret.code_at(seconds(app))}),
    )
    .await
    .ok();
    (sign_in_with_code(app, email, &secret).await, secret)
}

/// Signs in with the password and the next TOTP code.
async fn sign_in_with_code(app: &TestApp, email: &str, secret: &TotpSecret) -> String {
    app.clock.advance(Duration::from_secs(30));
    let login = app
        .gql(
            Cred::None,
            "mutation($e: String!, $p: String!, $o: String) { login(email: $e, password: $p, otp: $o) { token } }",
            json!({"e": email, "p": STRONG, "o": secret.code_at(seconds(app))}),
        )
        .await;
    login.ok()["login"]["token"].as_str().unwrap().to_owned()
}

async fn second_doctor(app: &TestApp, c: &Cast) -> Person {
    person(app, &c.admin, "sam@example.org", "Sam Specialist", "DOCTOR").await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_doctor_in_care_adds_a_record_the_patient_owns_and_others_are_refused() {
    let app = TestApp::start().await;
    let c = cast(&app).await;
    let other = second_doctor(&app, &c).await;
    let first = upload_ok(&app, &c.patient.token, "Referral letter", pdf("a", 2_000)).await;

    // Before any share, the doctor adds nothing; nothing is stored.
    let blobs_before = common::records::files_under(app.blobs.path()).len();
    let (status, body) = add_for(
        &app,
        &c.doctor.token,
        &c.patient.id,
        "Report",
        pdf("r", 3_000),
    )
    .await;
    assert_eq!(
        (status, body["error"]["code"].as_str()),
        (403, Some("FORBIDDEN")),
        "{body}"
    );
    assert_eq!(app.count_events("RecordUploaded").await, 1);

    share(&app, &c.patient.token, &first, &c.doctor.id, None)
        .await
        .ok();
    let report = pdf("discharge letter", 3_000);
    let (status, body) = add_for(
        &app,
        &c.doctor.token,
        &c.patient.id,
        "Discharge letter",
        report.clone(),
    )
    .await;
    assert_eq!(status, 201, "{body}");
    let added = body["id"].as_str().unwrap().to_owned();

    // Another doctor, with no share and no emergency, is refused; so is a patient naming
    // someone else's file, and an unknown patient; nothing more is stored.
    let (status, _) = add_for(&app, &other.token, &c.patient.id, "Mine", pdf("o", 500)).await;
    assert_eq!(status, 403);
    let (status, _) = add_for(&app, &c.patient.token, &other.id, "Mine", pdf("o", 500)).await;
    assert_eq!(status, 403);
    let (status, _) = add_for(
        &app,
        &c.doctor.token,
        &uuid::Uuid::now_v7().to_string(),
        "X",
        pdf("o", 500),
    )
    .await;
    assert_eq!(status, 403);
    let (status, _) = add_for(&app, &c.doctor.token, "not-an-id", "X", pdf("o", 500)).await;
    assert_eq!(status, 400);
    assert_eq!(app.count_events("RecordUploaded").await, 2);
    assert_eq!(
        common::records::files_under(app.blobs.path()).len(),
        blobs_before + 1
    );

    // The patient owns it and sees who wrote it; the doctor reads it through its share.
    let mine = app
        .gql(
            Cred::Bearer(&c.patient.token),
            "query($id: UUID!) { record(id: $id) { title owner { id } author { id name } shares { doctor { id } active } } }",
            json!({"id": added}),
        )
        .await;
    let record = &mine.ok()["record"];
    assert_eq!(record["title"], "Discharge letter");
    assert_eq!(record["owner"]["id"], c.patient.id.as_str());
    assert_eq!(record["author"]["id"], c.doctor.id.as_str());
    assert_eq!(record["shares"][0]["doctor"]["id"], c.doctor.id.as_str());
    let (status, _, bytes) = content(&app, Some(&c.doctor.token), &added, false).await;
    assert_eq!((status, bytes.unwrap()), (200, report.clone()));
    let (status, _, bytes) = content(&app, Some(&c.patient.token), &added, false).await;
    assert_eq!((status, bytes.unwrap()), (200, report));

    // The patient is told; the doctor is told of the patient's share, not of their own.
    let kinds = notice_kinds(&app, &c.patient.token).await;
    assert!(kinds.contains(&"RECORD_ADDED".to_owned()), "{kinds:?}");
    let doctors = notice_kinds(&app, &c.doctor.token).await;
    assert_eq!(
        doctors.iter().filter(|k| *k == "RECORD_SHARED").count(),
        1,
        "{doctors:?}"
    );
    let log = access_log(&app, &c.patient.token, &added).await;
    let uploaded = log.iter().find(|(a, _, _)| a == "UPLOADED").unwrap();
    assert_eq!(uploaded.1.as_deref(), Some(c.doctor.id.as_str()));

    // Replay agrees: the author could read it through their share until it was revoked.
    app.clock.advance(Duration::from_secs(1));
    let while_shared = app.clock.now();
    app.clock.advance(Duration::from_secs(1));

    // Revoked like any share: the doctor reads no more.
    let shares = app
        .gql(
            Cred::Bearer(&c.patient.token),
            "query($id: UUID!) { record(id: $id) { shares { id } } }",
            json!({"id": added}),
        )
        .await;
    let share_id = shares.ok()["record"]["shares"][0]["id"]
        .as_str()
        .unwrap()
        .to_owned();
    app.gql(
        Cred::Bearer(&c.patient.token),
        "mutation($s: UUID!) { revokeShare(shareId: $s) { active } }",
        json!({"s": share_id}),
    )
    .await
    .ok();
    assert_eq!(
        content(&app, Some(&c.doctor.token), &added, false).await.0,
        403
    );
    app.clock.advance(Duration::from_secs(1));
    assert_eq!(
        who_could_read(&app, &c, &added, while_shared).await,
        sorted(&[&c.patient.id, &c.doctor.id])
    );
    assert_eq!(
        who_could_read(&app, &c, &added, app.clock.now()).await,
        sorted(&[&c.patient.id])
    );
    // And it is the patient's to erase.
    app.gql(
        Cred::Bearer(&c.patient.token),
        "mutation($id: UUID!) { eraseRecord(recordId: $id, reason: \"not mine\") { status } }",
        json!({"id": added}),
    )
    .await
    .ok();
}

async fn refer(app: &TestApp, token: &str, record: &str, to: &str, note: Option<&str>) -> Gql {
    app.gql(
        Cred::Bearer(token),
        "mutation($r: UUID!, $t: UUID!, $n: String) { referRecord(recordId: $r, toDoctorId: $t, note: $n) \
           { id status note from { id } to { id } record { id title } } }",
        json!({"r": record, "t": to, "n": note}),
    )
    .await
}

async fn decide(app: &TestApp, token: &str, id: &str, approve: bool) -> Gql {
    app.gql(
        Cred::Bearer(token),
        "mutation($id: UUID!, $a: Boolean!) { decideReferral(id: $id, approve: $a) \
           { id status decidedAt share { id expiresAt doctor { id } } } }",
        json!({"id": id, "a": approve}),
    )
    .await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_approved_referral_lets_the_second_doctor_read_until_the_first_share_ends() {
    let app = TestApp::start().await;
    let c = cast(&app).await;
    let specialist = second_doctor(&app, &c).await;
    let ecg = upload_ok(&app, &c.patient.token, "ECG", pdf("ecg", 2_000)).await;
    let xray = upload_ok(&app, &c.patient.token, "X-ray", pdf("xray", 2_000)).await;
    let until = app.clock.now().plus_micros(3 * 24 * 3_600_000_000);
    share(
        &app,
        &c.patient.token,
        &ecg,
        &c.doctor.id,
        Some(&until.to_string()),
    )
    .await
    .ok();
    share(&app, &c.patient.token, &xray, &c.doctor.id, None)
        .await
        .ok();

    // Only a doctor with a live share refers, and only to another active doctor.
    refer(&app, &c.patient.token, &ecg, &specialist.id, None)
        .await
        .expect_code("FORBIDDEN");
    refer(&app, &specialist.token, &ecg, &c.doctor.id, None)
        .await
        .expect_code("NOT_FOUND");
    refer(&app, &c.doctor.token, &ecg, &c.patient.id, None)
        .await
        .expect_code("BAD_USER_INPUT");
    let note = "Cardiology please: the QT interval looks long";
    let asked = refer(&app, &c.doctor.token, &ecg, &specialist.id, Some(note)).await;
    let referral = asked.ok()["referRecord"].clone();
    assert_eq!(referral["status"], "PENDING");
    assert_eq!(referral["note"], note);
    let id = referral["id"].as_str().unwrap().to_owned();
    refer(&app, &c.doctor.token, &ecg, &specialist.id, None)
        .await
        .expect_code("CONFLICT");
    app.clock.advance(Duration::from_secs(1));
    let asked_at = app.clock.now();
    app.clock.advance(Duration::from_secs(1));

    // The patient is asked; the specialist sees the request but not yet the record.
    assert!(
        notice_kinds(&app, &c.patient.token)
            .await
            .contains(&"REFERRAL_REQUESTED".into())
    );
    let pending = app
        .gql(
            Cred::Bearer(&specialist.token),
            "{ referrals(status: PENDING) { id note record { id title } } }",
            json!({}),
        )
        .await;
    assert_eq!(pending.ok()["referrals"][0]["note"], note);
    assert_eq!(pending.ok()["referrals"][0]["record"]["title"], Value::Null);
    assert_eq!(
        content(&app, Some(&specialist.token), &ecg, false).await.0,
        404
    );

    // Only the owner decides; approval shares until the first doctor's share ends.
    decide(&app, &c.doctor.token, &id, true)
        .await
        .expect_code("FORBIDDEN");
    let approved = decide(&app, &c.patient.token, &id, true).await;
    let approved = &approved.ok()["decideReferral"];
    assert_eq!(approved["status"], "APPROVED");
    assert_eq!(approved["share"]["doctor"]["id"], specialist.id.as_str());
    assert_eq!(
        approved["share"]["expiresAt"]
            .as_str()
            .map(|t| t.to_owned()),
        Some(until.to_string())
    );
    decide(&app, &c.patient.token, &id, false)
        .await
        .expect_code("CONFLICT");
    assert_eq!(
        content(&app, Some(&specialist.token), &ecg, false).await.0,
        200
    );
    // Replay: asked, the specialist could not read it; approved, they could, until the
    // first doctor's share ended, when both lost it.
    app.clock.advance(Duration::from_secs(1));
    assert_eq!(
        who_could_read(&app, &c, &ecg, asked_at).await,
        sorted(&[&c.patient.id, &c.doctor.id])
    );
    assert_eq!(
        who_could_read(&app, &c, &ecg, app.clock.now()).await,
        sorted(&[&c.patient.id, &c.doctor.id, &specialist.id])
    );
    assert_eq!(
        who_could_read(&app, &c, &ecg, until).await,
        sorted(&[&c.patient.id])
    );
    let log = access_log(&app, &c.patient.token, &ecg).await;
    assert!(log.iter().any(|(a, _, _)| a == "REFERRED"), "{log:?}");
    assert!(
        notice_kinds(&app, &c.doctor.token)
            .await
            .contains(&"REFERRAL_DECIDED".into())
    );
    assert!(
        notice_kinds(&app, &specialist.token)
            .await
            .contains(&"REFERRAL_DECIDED".into())
    );

    // A declined referral grants nothing.
    let asked = refer(&app, &c.doctor.token, &xray, &specialist.id, Some(note)).await;
    let id = asked.ok()["referRecord"]["id"].as_str().unwrap().to_owned();
    let declined = decide(&app, &c.patient.token, &id, false).await;
    assert_eq!(declined.ok()["decideReferral"]["status"], "DECLINED");
    assert_eq!(declined.ok()["decideReferral"]["share"], Value::Null);
    assert_eq!(
        content(&app, Some(&specialist.token), &xray, false).await.0,
        404
    );

    // The note is sealed: not in the ledger, not in the view, not in the database's files.
    let in_ledger: i64 =
        sqlx::query_scalar("SELECT count(*) FROM events WHERE payload::text LIKE '%QT interval%'")
            .fetch_one(&app.pool)
            .await
            .unwrap();
    assert_eq!(in_ledger, 0);
    let in_view: i64 =
        sqlx::query_scalar("SELECT count(*) FROM referrals WHERE note LIKE '%QT interval%'")
            .fetch_one(&app.pool)
            .await
            .unwrap();
    assert_eq!(in_view, 0);
    sqlx::query("CHECKPOINT").execute(&app.pool).await.ok();
    let data_dir: String = sqlx::query_scalar("SHOW data_directory")
        .fetch_one(&app.pool)
        .await
        .unwrap();
    if std::path::Path::new(&data_dir).is_dir() {
        assert_eq!(
            crate::records_integrity::holders(
                std::path::Path::new(&data_dir),
                b"QT interval",
                None
            ),
            Vec::<String>::new()
        );
    }
}

/// Subscribes the token's person to their notifications; returns the socket once acked.
async fn subscribe(app: &TestApp, token: &str) -> common::ws::Socket {
    let mut socket = common::ws::connect_and_init(app.addr, token).await;
    let ack = common::ws::next(&mut socket, 15).await.unwrap();
    assert_eq!(ack["type"], "connection_ack");
    common::ws::send(
        &mut socket,
        json!({"id": "1", "type": "subscribe", "payload": {
            "query": "subscription { notifications { kind message } }"}}),
    )
    .await;
    socket
}

pub(crate) const OPEN: &str = "mutation($p: UUID!, $r: String!) { openEmergencyAccess(patientId: $p, reason: $r) \
    { id reason openedAt expiresAt closedAt reads patient { id } doctor { id } } }";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn emergency_access_reads_everything_while_open_tells_the_patient_and_ends_on_time() {
    let mut app = TestApp::start().await;
    // Shorter than a session's idle time, so the clock can pass it with everyone signed in.
    app.emergency.ttl = Duration::from_secs(600);
    app.restart().await;
    let c = cast(&app).await;
    let record = upload_ok(&app, &c.patient.token, "Allergies", pdf("allergy", 2_000)).await;
    app.clock.advance(Duration::from_secs(60));
    let before = app.clock.now();

    // A password alone does not open it.
    let weak = app
        .gql(
            Cred::Bearer(&c.doctor.token),
            OPEN,
            json!({"p": c.patient.id, "r": "unconscious"}),
        )
        .await;
    weak.expect_code("FORBIDDEN");
    assert_eq!(weak.errors()[0]["extensions"]["reason"], "MFA_REQUIRED");
    let (strong, _) = with_second_factor(&app, "dana@example.org", &c.doctor.token).await;
    app.gql(
        Cred::Bearer(&strong),
        OPEN,
        json!({"p": c.patient.id, "r": "  "}),
    )
    .await
    .expect_code("BAD_USER_INPUT");
    app.gql(
        Cred::Bearer(&strong),
        OPEN,
        json!({"p": c.admin.id, "r": "unconscious"}),
    )
    .await
    .expect_code("NOT_FOUND");
    // Nothing of it opened: still a stranger to the record.
    assert_eq!(content(&app, Some(&strong), &record, false).await.0, 404);

    let mut live = subscribe(&app, &c.patient.token).await;
    let mut admins = subscribe(&app, &c.admin.token).await;
    app.clock.advance(Duration::from_secs(60));
    let opened = app
        .gql(
            Cred::Bearer(&strong),
            OPEN,
            json!({"p": c.patient.id, "r": "Found unconscious in the ER, no relatives reachable"}),
        )
        .await;
    let access = opened.ok()["openEmergencyAccess"].clone();
    let id = access["id"].as_str().unwrap().to_owned();
    assert_eq!(
        access["reason"],
        "Found unconscious in the ER, no relatives reachable"
    );
    assert_eq!(access["closedAt"], Value::Null);
    app.gql(
        Cred::Bearer(&strong),
        OPEN,
        json!({"p": c.patient.id, "r": "again"}),
    )
    .await
    .expect_code("CONFLICT");

    // The patient hears at once, and the administrators too.
    for socket in [&mut live, &mut admins] {
        let message = common::ws::next(socket, 10)
            .await
            .expect("a notice within 10 s");
        assert_eq!(
            message["payload"]["data"]["notifications"]["kind"], "EMERGENCY_ACCESS",
            "{message}"
        );
    }

    // While open: the doctor lists and reads every record of the patient, each read
    // marked EMERGENCY, and a disclosure.
    let listed = app
        .gql(
            Cred::Bearer(&strong),
            "query($p: UUID!) { recordsOf(patientId: $p) { totalCount edges { node { id title } } } }",
            json!({"p": c.patient.id}),
        )
        .await;
    assert_eq!(
        listed.ok()["recordsOf"]["edges"][0]["node"]["title"],
        "Allergies"
    );
    app.gql(
        Cred::Bearer(&c.doctor.token),
        "query($p: UUID!) { recordsOf(patientId: $p) { totalCount } }",
        json!({"p": c.admin.id}),
    )
    .await
    .expect_code("FORBIDDEN");
    assert_eq!(content(&app, Some(&strong), &record, false).await.0, 200);
    let log = access_log(&app, &c.patient.token, &record).await;
    assert_eq!(log[0].0, "EMERGENCY");
    let disclosed = app
        .gql(
            Cred::Bearer(&c.patient.token),
            "{ disclosures { edges { node { action detail actor { id } } } } }",
            json!({}),
        )
        .await;
    let first = &disclosed.ok()["disclosures"]["edges"][0]["node"];
    assert_eq!(first["action"], "EMERGENCY");
    assert_eq!(first["detail"], "downloaded");
    // The signed report, taken from the ledger itself, marks it too.
    let patient = domain::account::UserId::from_uuid(c.patient.id.parse().unwrap());
    let from_ledger =
        projections::replay::disclosures_from_ledger(&app.pool, patient, None, None, i64::MAX)
            .await
            .unwrap();
    assert_eq!(
        from_ledger.iter().map(|d| d.action).collect::<Vec<_>>(),
        ["EMERGENCY"]
    );
    app.clock.advance(Duration::from_secs(60));
    let during = app.clock.now();

    // The administrators' queue, and a review the patient sees.
    let queue = app
        .gql(
            Cred::Bearer(&c.admin.token),
            "{ emergencyAccesses(reviewed: false) { edges { node { id reads doctor { id } } } } }",
            json!({}),
        )
        .await;
    let node = &queue.ok()["emergencyAccesses"]["edges"][0]["node"];
    assert_eq!(
        (node["id"].as_str(), node["reads"].as_i64()),
        (Some(id.as_str()), Some(1))
    );
    app.gql(
        Cred::Bearer(&c.doctor.token),
        "mutation($id: UUID!) { reviewEmergencyAccess(id: $id, justified: true) { id } }",
        json!({"id": id}),
    )
    .await
    .expect_code("FORBIDDEN");
    app.gql(
        Cred::Bearer(&c.admin.token),
        "mutation($id: UUID!) { reviewEmergencyAccess(id: $id, justified: true, note: \"ER admission confirmed\") { id } }",
        json!({"id": id}),
    )
    .await
    .ok();
    let history = app
        .gql(
            Cred::Bearer(&c.patient.token),
            "{ myEmergencyAccesses { id reason reads review { justified note by { id } } } }",
            json!({}),
        )
        .await;
    let mine = &history.ok()["myEmergencyAccesses"][0];
    assert_eq!(mine["review"]["justified"], true);
    assert_eq!(mine["review"]["note"], "ER admission confirmed");
    assert!(
        notice_kinds(&app, &c.patient.token)
            .await
            .contains(&"EMERGENCY_REVIEWED".into())
    );

    // Its time passes: refused from that moment, and the expiry recorded once.
    app.clock.advance(Duration::from_secs(600));
    let after = app.clock.now();
    let (status, _, body) = content(&app, Some(&strong), &record, false).await;
    assert_eq!(status, 403);
    let body: Value = serde_json::from_slice(&body.unwrap()).unwrap();
    assert_eq!(body["error"]["code"], "FORBIDDEN");
    assert!(
        body["error"]["message"]
            .as_str()
            .unwrap()
            .contains("emergency access"),
        "{body}"
    );
    app.gql(
        Cred::Bearer(&strong),
        "query($p: UUID!) { recordsOf(patientId: $p) { totalCount } }",
        json!({"p": c.patient.id}),
    )
    .await
    .expect_code("FORBIDDEN");
    eventually(
        Duration::from_secs(10),
        "EmergencyAccessExpired",
        || async { (app.count_events("EmergencyAccessExpired").await == 1).then_some(()) },
    )
    .await;

    // Replay: who could read it before, during and after.
    app.view_settled("records").await;
    assert_eq!(
        who_could_read(&app, &c, &record, before).await,
        sorted(&[&c.patient.id])
    );
    assert_eq!(
        who_could_read(&app, &c, &record, during).await,
        sorted(&[&c.patient.id, &c.doctor.id])
    );
    assert_eq!(
        who_could_read(&app, &c, &record, after).await,
        sorted(&[&c.patient.id])
    );

    // The reason is sealed on the ledger.
    let in_ledger: i64 = sqlx::query_scalar(
        "SELECT count(*) FROM events WHERE payload::text LIKE '%unconscious in the ER%'",
    )
    .fetch_one(&app.pool)
    .await
    .unwrap();
    assert_eq!(in_ledger, 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn emergency_access_is_closed_early_and_bounded_per_doctor() {
    let mut app = TestApp::start().await;
    app.emergency.limits = domain::emergency::EmergencyLimits {
        max_open: 1,
        max_per_day: 2,
    };
    app.restart().await;
    let c = cast(&app).await;
    let others: Vec<Person> = futures::future::join_all((0..2).map(|i| {
        let admin = &c.admin;
        let app = &app;
        async move {
            person(
                app,
                admin,
                &format!("p{i}@example.org"),
                &format!("Patient {i}"),
                "PATIENT",
            )
            .await
        }
    }))
    .await;
    let (strong, secret) = with_second_factor(&app, "dana@example.org", &c.doctor.token).await;
    let record = upload_ok(&app, &c.patient.token, "Chart", pdf("chart", 1_000)).await;
    let open = |patient: &str| {
        let patient = patient.to_owned();
        let strong = strong.clone();
        let app = &app;
        async move {
            app.gql(
                Cred::Bearer(&strong),
                OPEN,
                json!({"p": patient, "r": "emergency"}),
            )
            .await
        }
    };
    let first = open(&c.patient.id).await;
    let id = first.ok()["openEmergencyAccess"]["id"]
        .as_str()
        .unwrap()
        .to_owned();
    // One open at a time.
    open(&others[0].id).await.expect_code("RATE_LIMITED");

    // Closed early: reading ends at once; closing again changes nothing.
    let close = "mutation($id: UUID!) { closeEmergencyAccess(id: $id) { id closedAt } }";
    app.gql(Cred::Bearer(&c.patient.token), close, json!({"id": id}))
        .await
        .expect_code("NOT_FOUND");
    let closed = app
        .gql(Cred::Bearer(&strong), close, json!({"id": id}))
        .await;
    assert!(closed.ok()["closeEmergencyAccess"]["closedAt"].is_string());
    assert_eq!(content(&app, Some(&strong), &record, false).await.0, 403);
    assert_eq!(app.count_events("EmergencyAccessClosed").await, 1);
    app.gql(Cred::Bearer(&strong), close, json!({"id": id}))
        .await
        .ok();
    assert_eq!(app.count_events("EmergencyAccessClosed").await, 1);

    // Two a day: the third is refused, and after a day there is room again.
    open(&others[0].id).await.ok();
    app.gql(
        Cred::Bearer(&strong),
        close,
        json!({"id": app.gql(Cred::Bearer(&strong), "{ myEmergencyAccesses { id closedAt } }", json!({})).await.ok()["myEmergencyAccesses"][0]["id"]}),
    )
    .await
    .ok();
    open(&others[1].id).await.expect_code("RATE_LIMITED");
    app.clock.advance(Duration::from_secs(24 * 3600 + 1));
    // A day later (and signed in again: the session ended meanwhile) there is room.
    let again = sign_in_with_code(&app, "dana@example.org", &secret).await;
    app.gql(
        Cred::Bearer(&again),
        OPEN,
        json!({"p": others[1].id, "r": "emergency"}),
    )
    .await
    .ok();
}
