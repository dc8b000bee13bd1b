//! A patient's export end to end (DESIGN.md §12): a patient with records they uploaded
//! (one as `../../evil.pdf`), one a doctor added, a share, a MANAGE proxy and an
//! emergency read downloads everything; `medchain export verify` passes with the
//! ledger's public key; the FHIR Bundle validates (fhir.resources, R4); the zip unzips
//! inside its folder; changing one byte of any member, by an adversary who keeps the zip
//! well formed, or by damage the zip itself catches, fails and says where. The proxy may
//! export for the patient; a READ proxy, a doctor, an administrator and nobody may not.

use crate::common;

use common::app::{Cred, TestApp};
use common::records::{added_ok, cast, content, pdf, person, share, upload, upload_ok};
use serde_json::{Value, json};
use std::io::{Read as _, Write as _};
use std::path::{Component, Path, PathBuf};

/// `GET /api/me/export` (with `?patient=`): the status and the body.
async fn export(app: &TestApp, token: Option<&str>, patient: Option<&str>) -> (u16, Vec<u8>) {
    let path = match patient {
        Some(p) => format!("/api/me/export?patient={p}"),
        None => "/api/me/export".to_owned(),
    };
    let mut request = app.http.get(app.url(&path));
    if let Some(token) = token {
        request = request.bearer_auth(token);
    }
    let response = request.send().await.unwrap();
    let status = response.status().as_u16();
    (status, response.bytes().await.unwrap().to_vec())
}

/// `medchain export verify FILE --pubkey K`: exit code and stdout.
async fn verify(app: &TestApp, dir: &Path, file: &Path) -> (i32, String) {
    let key = app.ledger_key.public_hex();
    let (code, out, err) = common::cli::medchain(
        app,
        &dir.join("cli"),
        &["export", "verify", file.to_str().unwrap(), "--pubkey", &key],
    )
    .await;
    (code, format!("{out}{err}"))
}

fn members(zip: &[u8]) -> Vec<(String, Vec<u8>)> {
    let mut archive = zip::ZipArchive::new(std::io::Cursor::new(zip)).unwrap();
    (0..archive.len())
        .map(|i| {
            let mut file = archive.by_index(i).unwrap();
            let mut bytes = Vec::new();
            file.read_to_end(&mut bytes).unwrap();
            (file.name().unwrap().into_owned(), bytes)
        })
        .collect()
}

/// The same zip, well formed, with one byte of member `target` changed.
fn with_one_byte_changed(zip: &[u8], target: &str) -> Vec<u8> {
    let mut out = zip::ZipWriter::new(std::io::Cursor::new(Vec::new()));
    let stored =
        zip::write::SimpleFileOptions::default().compression_method(zip::CompressionMethod::Stored);
    for (name, mut bytes) in members(zip) {
        if name == target {
            let at = bytes.len() / 2;
            bytes[at] ^= 0x01;
        }
        out.start_file(name.as_str(), stored).unwrap();
        out.write_all(&bytes).unwrap();
    }
    out.finish().unwrap().into_inner()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_export_holds_everything_with_its_proofs_and_any_change_is_caught() {
    // A witness cosigns the log, so the export ties its head to a witnessed one.
    let witness_dir = tempfile::tempdir().unwrap();
    let (witness_key, witness) = crate::transparency::witness_key(witness_dir.path(), "alpha");
    let mut app = TestApp::start().await;
    app.witnesses = domain::ledger::cosignature::WitnessKeys::new(vec![("alpha".into(), witness)]);
    app.restart().await;
    let c = cast(&app).await;
    let kin = person(&app, &c.admin, "kin@example.org", "Kim Kin", "PATIENT").await;
    let reader = person(&app, &c.admin, "ray@example.org", "Ray Reader", "PATIENT").await;
    let specialist = person(
        &app,
        &c.admin,
        "sam@example.org",
        "Sam Specialist",
        "DOCTOR",
    )
    .await;

    // Records: one named to climb out of any folder, one shared, one a doctor adds.
    let (status, evil) = upload(
        &app,
        &c.patient.token,
        "Scan",
        "../../evil.pdf",
        pdf("evil", 5000),
    )
    .await;
    assert_eq!(status, 201, "{evil}");
    let evil = evil["id"].as_str().unwrap().to_owned();
    let labs = upload_ok(&app, &c.patient.token, "Lab results", pdf("labs", 200_000)).await;
    share(&app, &c.patient.token, &labs, &c.doctor.id, None)
        .await
        .ok();
    let added = added_ok(
        &app,
        &c.doctor.token,
        &c.patient.id,
        "Discharge letter",
        "letter.pdf",
        pdf("letter", 3000),
    )
    .await;
    assert_eq!(
        content(&app, Some(&c.doctor.token), &labs, false).await.0,
        200
    );
    // A MANAGE proxy and a READ one.
    for (email, scope, who) in [
        ("kin@example.org", "MANAGE", &kin),
        ("ray@example.org", "READ", &reader),
    ] {
        app.gql(
            Cred::Bearer(&c.patient.token),
            crate::proxies::GRANT,
            json!({"e": email, "s": scope, "r": null, "x": null}),
        )
        .await
        .ok();
        let invitation = crate::proxies::invitation_to(&app, email);
        crate::proxies::accept(&app, &who.token, &invitation)
            .await
            .ok();
    }
    // An emergency read by a specialist with a second factor.
    let (strong, _) =
        crate::care::with_second_factor(&app, "sam@example.org", &specialist.token).await;
    app.gql(
        Cred::Bearer(&strong),
        crate::care::OPEN,
        json!({"p": c.patient.id, "r": "unconscious in the ER"}),
    )
    .await
    .ok();
    assert_eq!(content(&app, Some(&strong), &evil, false).await.0, 200);
    common::records::records_view_settled(&app).await;
    app.view_settled("proxies").await;

    app.gql(
        Cred::Bearer(&c.admin.token),
        "mutation { checkpointLedger { seq } }",
        json!({}),
    )
    .await
    .ok();
    let (code, err) = crate::transparency::witness_once(
        &app.url(""),
        &witness_key,
        &witness_dir.path().join("state"),
        "alpha",
    )
    .await;
    assert_eq!(code, 0, "{err}");

    // Who may export: the patient and their MANAGE proxy; nobody else.
    let p = c.patient.id.as_str();
    assert_eq!(export(&app, None, None).await.0, 401);
    for token in [&reader.token, &c.doctor.token, &c.admin.token] {
        assert_eq!(export(&app, Some(token), Some(p)).await.0, 403);
    }
    let exported_before = app.count_events("DataExported").await;
    let (status, zip) = export(&app, Some(&c.patient.token), None).await;
    assert_eq!(status, 200, "{}", String::from_utf8_lossy(&zip));
    assert_eq!(app.count_events("DataExported").await, exported_before + 1);

    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("export.zip");
    std::fs::write(&file, &zip).unwrap();
    let (code, said) = verify(&app, dir.path(), &file).await;
    assert_eq!(code, 0, "{said}");
    assert!(said.starts_with("OK: 3 files"), "{said}");
    assert!(said.contains("1 witness(es) cosigned"), "{said}");

    // What it holds.
    let parts = members(&zip);
    let names: Vec<&str> = parts.iter().map(|(n, _)| n.as_str()).collect();
    for name in [
        format!("files/{evil}/evil.pdf"),
        format!("files/{labs}/report.pdf"),
        format!("files/{added}/letter.pdf"),
    ] {
        assert!(names.contains(&name.as_str()), "{name} in {names:?}");
    }
    for name in [
        "fhir/bundle.json",
        "ledger/events.jsonl",
        "ledger/proofs.jsonl",
        "ledger/checkpoint.json",
        "ledger/witnessed.json",
        "manifest.json",
        "manifest.sig",
    ] {
        assert!(names.contains(&name), "{name} in {names:?}");
    }
    let part = |name: &str| parts.iter().find(|(n, _)| n == name).unwrap().1.clone();
    assert_eq!(part(&format!("files/{evil}/evil.pdf")), pdf("evil", 5000));
    let manifest: Value = serde_json::from_slice(&part("manifest.json")).unwrap();
    let evil_entry = manifest["files"]
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["record"] == evil.as_str())
        .unwrap();
    assert_eq!(evil_entry["fileName"], "evil.pdf");
    let bundle: Value = serde_json::from_slice(&part("fhir/bundle.json")).unwrap();
    assert_eq!(bundle["type"], "collection");
    let kinds: Vec<&str> = bundle["entry"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["resource"]["resourceType"].as_str().unwrap())
        .collect();
    for kind in [
        "Patient",
        "DocumentReference",
        "Provenance",
        "Consent",
        "AuditEvent",
    ] {
        assert!(kinds.contains(&kind), "{kind} in {kinds:?}");
    }
    assert!(
        bundle.to_string().contains("ETREAT"),
        "the emergency read is an AuditEvent of its own purpose"
    );
    crate::fhir::validate(&[bundle]);
    // Every event of the patient's is there, up to the export itself.
    let events = String::from_utf8(part("ledger/events.jsonl")).unwrap();
    assert!(
        events
            .lines()
            .any(|l| l.contains("\"type\":\"DataExported\""))
    );
    assert!(
        events
            .lines()
            .any(|l| l.contains("\"type\":\"ProxyAccepted\""))
    );

    // Unzipped, everything stays inside the folder.
    let out = dir.path().join("unzipped");
    for (name, bytes) in &parts {
        let path = Path::new(name);
        assert!(
            path.components().all(|c| matches!(c, Component::Normal(_))),
            "{name} would leave the folder"
        );
        let target: PathBuf = out.join(path);
        std::fs::create_dir_all(target.parent().unwrap()).unwrap();
        std::fs::write(&target, bytes).unwrap();
    }
    let python = std::process::Command::new("python3")
        .args([
            "-c",
            "import sys, zipfile; zipfile.ZipFile(sys.argv[1]).extractall(sys.argv[2])",
        ])
        .arg(&file)
        .arg(dir.path().join("python"))
        .status()
        .unwrap();
    assert!(python.success());
    assert!(
        dir.path()
            .join(format!("python/files/{evil}/evil.pdf"))
            .exists()
    );

    // One byte changed in any member, the zip kept well formed: caught, and said where.
    for name in &names {
        let changed = with_one_byte_changed(&zip, name);
        let bad = dir.path().join("changed.zip");
        std::fs::write(&bad, changed).unwrap();
        let (code, said) = verify(&app, dir.path(), &bad).await;
        assert_eq!(code, 1, "{name}: {said}");
        let place = match *name {
            "manifest.sig" => "manifest.json",
            other => other,
        };
        assert!(said.contains(place), "{name}: {said}");
    }
    // And a byte damaged in place: the zip's own checksum catches it, at that member.
    let mut damaged = zip.clone();
    let offset = {
        let mut archive = zip::ZipArchive::new(std::io::Cursor::new(&zip)).unwrap();
        let entry = archive
            .by_name(&format!("files/{labs}/report.pdf"))
            .unwrap();
        entry.data_start().unwrap() as usize + 1000
    };
    damaged[offset] ^= 0x40;
    let bad = dir.path().join("damaged.zip");
    std::fs::write(&bad, damaged).unwrap();
    let (code, said) = verify(&app, dir.path(), &bad).await;
    assert_eq!(code, 1, "{said}");
    assert!(said.contains(&format!("files/{labs}/report.pdf")), "{said}");
    // A key not the ledger's: refused.
    let (code, said, _) = common::cli::medchain(
        &app,
        &dir.path().join("cli"),
        &[
            "export",
            "verify",
            file.to_str().unwrap(),
            "--pubkey",
            &"ab".repeat(32),
        ],
    )
    .await;
    assert_ne!(code, 0, "{said}");

    // The MANAGE proxy exports for the patient: it verifies too.
    let (status, theirs) = export(&app, Some(&kin.token), Some(p)).await;
    assert_eq!(status, 200, "{}", String::from_utf8_lossy(&theirs));
    let file = dir.path().join("proxy.zip");
    std::fs::write(&file, &theirs).unwrap();
    let (code, said) = verify(&app, dir.path(), &file).await;
    assert_eq!(code, 0, "{said}");
    let exported: Vec<Value> = sqlx::query_scalar(
        "SELECT payload::jsonb FROM events WHERE type = 'DataExported' ORDER BY seq",
    )
    .fetch_all(&app.pool)
    .await
    .unwrap();
    assert_eq!(exported.len(), 2);
    assert_eq!(exported[1]["by"], kin.id.as_str());
    assert_ne!(exported[1]["proxy"], Value::Null);
}
