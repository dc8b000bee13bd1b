//! The web app: served by the binary with a strict policy, and used end to end in
//! headless Chromium (Debian's `chromium`, driven by Playwright from npm, both installed
//! by `.ci/run`) against the real server: `tests/browser/flows.mjs`. Screenshots of the
//! main pages are written to `target/screenshots/`.

use crate::common;

use common::app::{STRONG, TestApp};
use std::path::PathBuf;
use std::process::Stdio;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_app_is_served_at_the_root_with_a_strict_policy() {
    let app = TestApp::start().await;
    for path in ["/", "/records", "/reset?token=abc", "/admin/ledger"] {
        let page = app.http.get(app.url(path)).send().await.unwrap();
        assert_eq!(page.status(), 200, "{path}");
        let csp = page.headers()["content-security-policy"]
            .to_str()
            .unwrap()
            .to_owned();
        assert!(csp.contains("script-src 'self'"), "{csp}");
        assert!(
            !csp.contains("unsafe-inline") && !csp.contains("unsafe-eval"),
            "{csp}"
        );
        assert!(csp.contains("frame-ancestors 'none'"), "{csp}");
        assert_eq!(page.headers()["x-content-type-options"], "nosniff");
        let html = page.text().await.unwrap();
        assert!(
            html.contains("<script type=\"module\" src=\"/assets/app.js\">"),
            "{html}"
        );
        assert!(!html.contains("<script>"), "no inline script");
    }
    let module = app
        .http
        .get(app.url("/assets/app.js"))
        .send()
        .await
        .unwrap();
    assert_eq!(module.status(), 200);
    assert!(
        module.headers()["content-type"]
            .to_str()
            .unwrap()
            .contains("javascript"),
        "{:?}",
        module.headers()
    );
    // Unknown API paths stay errors; they never get the page.
    for path in ["/api/nothing", "/assets/nothing.js", "/graphqlx"] {
        let missing = app.http.get(app.url(path)).send().await.unwrap();
        assert_eq!(missing.status(), 404, "{path}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn patients_doctors_and_administrators_do_their_work_in_a_browser() {
    let mut app = TestApp::start().await;
    // A witness the log expects, which never cosigns: the dashboard flags it.
    app.witnesses = domain::ledger::cosignature::WitnessKeys::new(vec![(
        "st-gallen".into(),
        ed25519_dalek::SigningKey::from_bytes(&[9; 32]).verifying_key(),
    )]);
    app.restart().await;
    app.create_admin("root@example.org", "Ada Admin").await;
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    let browser = root.join("tests").join("browser");
    assert!(
        browser
            .join("node_modules")
            .join("playwright-core")
            .exists(),
        "the browser tests need `npm ci --prefix tests/browser` and Debian's chromium \
         (`apt-get install chromium`); .ci/run installs both"
    );
    let shots = root.join("target").join("screenshots");
    let downloads = tempfile::tempdir().unwrap();
    let receipt = downloads.path().join("receipt.json");
    run_browser_script(
        &app,
        "flows.mjs",
        &[
            ("ADMIN_EMAIL", "root@example.org".as_ref()),
            ("ADMIN_PASSWORD", STRONG.as_ref()),
            ("SCREENSHOTS", shots.as_os_str()),
            ("OUTBOX", app.outbox.path().as_os_str()),
            ("RECEIPT", receipt.as_os_str()),
        ],
    )
    .await;
    // The receipt the patient downloaded checks offline against the ledger's key.
    let out = tokio::process::Command::new(env!("CARGO_BIN_EXE_medchain"))
        .args(["ledger", "check-proof"])
        .arg(&receipt)
        .args(["--pubkey", &app.ledger_key.public_hex()])
        .output()
        .await
        .unwrap();
    let said = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{said}");
    assert!(
        said.contains("(RecordAccessed) is in the signed tree"),
        "{said}"
    );
    for name in [
        "patient-records",
        "patient-record",
        "doctor-shared",
        "admin-dashboard",
        "admin-ledger",
    ] {
        assert!(shots.join(format!("{name}.png")).exists(), "{name}.png");
    }
}

/// Sign-in security in Chromium (`tests/browser/security.mjs`): a code app turned on
/// from the profile page, a code asked for and given at sign-in, the sessions saying how
/// each signed in, and the app turned off with a recovery code. The server's clock stands
/// still, so the script computes its codes for the steps around it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_patient_turns_a_code_app_on_and_off_in_a_browser() {
    use commands::Clock as _;
    let mut app = TestApp::start().await;
    app.mfa_required = domain::account::MfaPolicy::parse("admin").unwrap();
    app.restart().await;
    app.create_admin("sec.admin@example.org", "Sam Admin").await;
    let shots = screenshots();
    let server_time = (app.clock.now().as_micros() / 1_000_000).to_string();
    let stdout = run_browser_script(
        &app,
        "security.mjs",
        &[
            ("SCREENSHOTS", shots.as_os_str()),
            ("SERVER_TIME", server_time.as_ref()),
            ("ADMIN_EMAIL", "sec.admin@example.org".as_ref()),
            ("ADMIN_PASSWORD", STRONG.as_ref()),
        ],
    )
    .await;
    assert!(stdout.contains("security flows passed"), "{stdout}");
}

/// Passkeys in Chromium with the DevTools virtual authenticator
/// (`tests/browser/passkeys.mjs`), the pages browsed as `http://localhost:<port>`: the
/// server without a public URL is its relying party there, and takes that origin as its
/// own beside the listen address.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_patient_adds_a_passkey_signs_in_with_it_and_removes_it_in_a_browser() {
    let app = TestApp::start().await;
    let shots = screenshots();
    let url = format!("http://localhost:{}", app.addr.port());
    let stdout = run_browser_script(
        &app,
        "passkeys.mjs",
        &[
            ("SCREENSHOTS", shots.as_os_str()),
            ("MEDCHAIN_URL", url.as_ref()),
        ],
    )
    .await;
    assert!(stdout.contains("passkey flows passed"), "{stdout}");
}

/// Erasure in Chromium (`tests/browser/erasure.mjs`): a legal hold placed and seen by
/// the patient, a record erased with its erasure pending, the hold lifted and the epochs
/// rotated by another administrator, and the certificate complete and downloaded.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_erasure_completes_after_a_rotation_and_a_hold_keeps_a_record_in_a_browser() {
    use crate::common::records::{cast, pdf, upload_ok};
    let app = TestApp::start().await;
    let c = cast(&app).await;
    app.create_admin("second@example.org", "Bea Admin").await;
    let held = upload_ok(&app, &c.patient.token, "Court file", pdf("H", 2048)).await;
    let erased = upload_ok(&app, &c.patient.token, "Duplicate scan", pdf("E", 2048)).await;
    let shots = screenshots();
    let stdout = run_browser_script(
        &app,
        "erasure.mjs",
        &[
            ("SCREENSHOTS", shots.as_os_str()),
            ("ADMIN_EMAIL", "root@example.org".as_ref()),
            ("OTHER_ADMIN_EMAIL", "second@example.org".as_ref()),
            ("PATIENT_EMAIL", "pat@example.org".as_ref()),
            ("PASSWORD", STRONG.as_ref()),
            ("HELD_RECORD", held.as_ref()),
            ("ERASED_RECORD", erased.as_ref()),
        ],
    )
    .await;
    assert!(stdout.contains("erasure flows passed"), "{stdout}");
}

/// Care between doctors in Chromium (`tests/browser/care.mjs`): a doctor adds a report
/// and the patient sees it arrive; a referral approved by the patient; emergency access
/// refused in words without a second factor, shown with its countdown to the doctor who
/// holds one, and reviewed by an administrator.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn doctors_add_records_refer_and_open_emergency_access_in_a_browser() {
    use crate::common::records::{cast, pdf, person, share, upload_ok};
    use serde_json::json;
    let app = TestApp::start().await;
    let c = cast(&app).await;
    person(
        &app,
        &c.admin,
        "sam@example.org",
        "Sam Specialist",
        "DOCTOR",
    )
    .await;
    let eve = person(&app, &c.admin, "eve@example.org", "Eve Emergency", "DOCTOR").await;
    let ecg = upload_ok(&app, &c.patient.token, "ECG", pdf("ecg", 2048)).await;
    share(&app, &c.patient.token, &ecg, &c.doctor.id, None)
        .await
        .ok();
    let (strong, _) = crate::care::with_second_factor(&app, "eve@example.org", &eve.token).await;
    app.gql(
        common::app::Cred::Bearer(&strong),
        "mutation($p: UUID!) { openEmergencyAccess(patientId: $p, reason: \"Unconscious after a car accident\") { id } }",
        json!({"p": c.patient.id}),
    )
    .await
    .ok();
    let shots = screenshots();
    let stdout = run_browser_script(
        &app,
        "care.mjs",
        &[
            ("SCREENSHOTS", shots.as_os_str()),
            ("PASSWORD", STRONG.as_ref()),
            ("ADMIN_EMAIL", "root@example.org".as_ref()),
            ("PATIENT_EMAIL", "pat@example.org".as_ref()),
            ("PATIENT_ID", c.patient.id.as_ref()),
            ("DOCTOR_EMAIL", "dana@example.org".as_ref()),
            ("SPECIALIST_EMAIL", "sam@example.org".as_ref()),
            ("EMERGENCY_SESSION", strong.as_ref()),
            ("ECG_RECORD", ecg.as_ref()),
        ],
    )
    .await;
    assert!(stdout.contains("care flows passed"), "{stdout}");
}

/// Share links in Chromium (`tests/browser/links.mjs`): the patient makes a link and
/// sees its passcode once; a recipient with no account opens it (a wrong passcode
/// refused in words), downloads the record, and the patient hears of it live.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_recipient_without_an_account_opens_a_share_link_in_a_browser() {
    use crate::common::records::{cast, pdf, upload_ok};
    let app = TestApp::start().await;
    let c = cast(&app).await;
    let record = upload_ok(&app, &c.patient.token, "Lab results", pdf("lab", 2048)).await;
    let shots = screenshots();
    let stdout = run_browser_script(
        &app,
        "links.mjs",
        &[
            ("SCREENSHOTS", shots.as_os_str()),
            ("PASSWORD", STRONG.as_ref()),
            ("PATIENT_EMAIL", "pat@example.org".as_ref()),
            ("RECORD", record.as_ref()),
        ],
    )
    .await;
    assert!(stdout.contains("link flows passed"), "{stdout}");
}

/// Family and caregivers in Chromium (`tests/browser/family.mjs`): the patient invites a
/// relative, who accepts from the mailed link, sees and downloads the patient's record;
/// the patient sees what they did and revokes it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_patient_lets_a_relative_look_after_their_records_in_a_browser() {
    use crate::common::records::{cast, pdf, person, upload_ok};
    let app = TestApp::start().await;
    let c = cast(&app).await;
    person(&app, &c.admin, "kin@example.org", "Kim Kin", "PATIENT").await;
    upload_ok(&app, &c.patient.token, "Lab results", pdf("lab", 2048)).await;
    let shots = screenshots();
    let stdout = run_browser_script(
        &app,
        "family.mjs",
        &[
            ("SCREENSHOTS", shots.as_os_str()),
            ("PASSWORD", STRONG.as_ref()),
            ("PATIENT_EMAIL", "pat@example.org".as_ref()),
            ("KIN_EMAIL", "kin@example.org".as_ref()),
            ("OUTBOX", app.outbox.path().as_os_str()),
        ],
    )
    .await;
    assert!(stdout.contains("family flows passed"), "{stdout}");
}

/// Read tokens in Chromium (`tests/browser/apps.mjs`): the patient makes one on the
/// profile page and sees its secret once, an app reads through FHIR with it, the page
/// shows it was used, and the patient revokes it: the app is refused at once.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_patient_gives_an_app_a_read_token_and_revokes_it_in_a_browser() {
    use crate::common::records::{cast, pdf, upload_ok};
    let app = TestApp::start().await;
    let c = cast(&app).await;
    upload_ok(&app, &c.patient.token, "Lab results", pdf("lab", 2048)).await;
    let shots = screenshots();
    let stdout = run_browser_script(
        &app,
        "apps.mjs",
        &[
            ("SCREENSHOTS", shots.as_os_str()),
            ("PASSWORD", STRONG.as_ref()),
            ("PATIENT_EMAIL", "pat@example.org".as_ref()),
            ("PATIENT_ID", c.patient.id.as_ref()),
        ],
    )
    .await;
    assert!(stdout.contains("read token flows passed"), "{stdout}");
}

/// "Download all my data" in Chromium (`tests/browser/export.mjs`): the patient
/// downloads their export from the profile page with its progress shown, and the file
/// passes `medchain export verify` against the ledger's key.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_patient_downloads_all_their_data_in_a_browser() {
    use crate::common::records::{cast, pdf, upload_ok};
    let app = TestApp::start().await;
    let c = cast(&app).await;
    upload_ok(&app, &c.patient.token, "Lab results", pdf("lab", 300_000)).await;
    let shots = screenshots();
    let dir = tempfile::tempdir().unwrap();
    let zip = dir.path().join("export.zip");
    let stdout = run_browser_script(
        &app,
        "export.mjs",
        &[
            ("SCREENSHOTS", shots.as_os_str()),
            ("PASSWORD", STRONG.as_ref()),
            ("PATIENT_EMAIL", "pat@example.org".as_ref()),
            ("EXPORT_TO", zip.as_os_str()),
        ],
    )
    .await;
    assert!(stdout.contains("export flows passed"), "{stdout}");
    let key = app.ledger_key.public_hex();
    let (code, out, err) = crate::common::cli::medchain(
        &app,
        &dir.path().join("cli"),
        &["export", "verify", zip.to_str().unwrap(), "--pubkey", &key],
    )
    .await;
    assert_eq!(code, 0, "{out}{err}");
    assert!(out.starts_with("OK: 1 files"), "{out}");
}

/// A read-only server in Chromium (`tests/browser/readonly.mjs`): the ledger frozen as
/// `medchain restore` freezes one restored short of its newest signed head; every page
/// says so with the server's reason, a patient with a live session sees their records,
/// and an upload and a sign-in are refused in words.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_read_only_server_says_so_on_every_page_in_a_browser() {
    use crate::common::records::{cast, pdf, upload_ok};
    let app = TestApp::start().await;
    let c = cast(&app).await;
    upload_ok(&app, &c.patient.token, "Lab results", pdf("lab", 2048)).await;
    commands::ledger::freeze(
        &app.pool,
        "restored from a backup that does not reach the newest signed head: the signed head in the store is at seq 40, beyond the restored ledger's last event, seq 12",
    )
    .await
    .unwrap();
    let shots = screenshots();
    let stdout = run_browser_script(
        &app,
        "readonly.mjs",
        &[
            ("SCREENSHOTS", shots.as_os_str()),
            ("PASSWORD", STRONG.as_ref()),
            ("PATIENT_EMAIL", "pat@example.org".as_ref()),
            ("PATIENT_TOKEN", c.patient.token.as_ref()),
        ],
    )
    .await;
    assert!(stdout.contains("read-only flows passed"), "{stdout}");
}

/// GraphiQL at `GET /graphql` in Chromium: served by the binary itself under a strict
/// policy, it loads nothing from another origin and runs a query
/// (`tests/browser/graphiql.mjs`).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn graphiql_loads_nothing_from_another_origin_and_runs_a_query() {
    let app = TestApp::start().await;
    let stdout = run_browser_script(&app, "graphiql.mjs", &[]).await;
    assert!(stdout.contains("graphiql ok"), "{stdout}");
    let page = app.http.get(app.url("/graphql")).send().await.unwrap();
    let csp = page.headers()["content-security-policy"]
        .to_str()
        .unwrap()
        .to_owned();
    assert!(csp.contains("script-src 'self';"), "{csp}");
    let html = page.text().await.unwrap();
    assert!(
        !html.contains("unpkg") && !html.contains("cdn") && !html.contains("https://"),
        "{html}"
    );
    for bad in [
        "/graphql/assets/../index.html",
        "/graphql/assets/VERSIONS.md",
    ] {
        let response = app.http.get(app.url(bad)).send().await.unwrap();
        assert_eq!(response.status(), 404, "{bad}");
    }
}

/// Where the browser scripts leave their screenshots.
fn screenshots() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("target")
        .join("screenshots")
}

/// Runs a Playwright script of `tests/browser` against the app in Chromium, with
/// `MEDCHAIN_URL`, `CHROMIUM` and `env`; fails the test unless it succeeds. Returns its
/// standard output.
async fn run_browser_script(
    app: &TestApp,
    script: &str,
    env: &[(&str, &std::ffi::OsStr)],
) -> String {
    let browser = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests")
        .join("browser");
    let out = tokio::process::Command::new("node")
        .arg(browser.join(script))
        .current_dir(&browser)
        .env("MEDCHAIN_URL", format!("http://{}", app.addr))
        .env("CHROMIUM", "/usr/bin/chromium")
        .envs(env.iter().copied())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .output()
        .await
        .expect("node runs (Debian: apt-get install nodejs npm)");
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{script}: {stdout}\n{stderr}");
    stdout
}
