//! Key epochs and erasure that holds on disk (DESIGN.md §11), end to end: after an
//! erasure and one rotation, an adversary holding the master key and every file of the
//! deployment opens no key of the erased person and none of their sealed fields (and
//! before the rotation does, which shows the search can find what it looks for); a
//! rotation killed halfway is finished by the next start; two processes rotate one at a
//! time while uploads and downloads go on; the certificate, the ledger and the
//! independent verifier agree.

use crate::common::{
    self,
    app::{Cred, TestApp, eventually},
    records::{Person, cast, content, pdf, person, upload_ok},
};
use base64::{Engine, engine::general_purpose::URL_SAFE_NO_PAD};
use ring::aead::{AES_256_GCM, Aad, LessSafeKey, Nonce, UnboundKey};
use serde_json::{Value, json};
use sqlx::Connection as _;
use std::{
    path::{Path, PathBuf},
    time::Duration,
};
use uuid::Uuid;

const ERASE_USER: &str =
    "mutation($id: UUID!) { eraseUser(userId: $id, reason: \"asked\") { status } }";
const CERTIFICATE: &str = "query($s: String!) { erasureCertificate(subject: $s) { \
    subject erasedAt seq basis epochs complete completeAt dueBy document } }";
const ROTATE: &str = "mutation { rotateKeyEpoch { number startedAt retiredAt } }";

/// Someone who has the master key and can read every file, and reads the formats of
/// DESIGN.md §11 with their own code (and another AES-GCM than the server's: ring's).
struct Adversary {
    master: [u8; 32],
}

/// An AES-256-GCM key (ring's).
fn cipher(key: &[u8]) -> LessSafeKey {
    LessSafeKey::new(UnboundKey::new(&AES_256_GCM, key).unwrap())
}

/// `nonce ‖ ciphertext ‖ tag`, opened under `key` with associated data `ad`.
fn open(key: &LessSafeKey, ad: &[u8], wrapped: &[u8]) -> Option<Vec<u8>> {
    let (nonce, sealed) = wrapped.split_at(12);
    let mut buffer = [0u8; 128];
    let buffer = buffer.get_mut(..sealed.len())?;
    buffer.copy_from_slice(sealed);
    let nonce = Nonce::try_assume_unique_for_key(nonce).ok()?;
    key.open_in_place(nonce, Aad::from(ad), buffer)
        .ok()
        .map(|plain| plain.to_vec())
}

fn ad(prefix: &[u8], id: Uuid, epoch: Option<u32>) -> Vec<u8> {
    let mut ad = [prefix, id.as_bytes()].concat();
    if let Some(e) = epoch {
        ad.extend_from_slice(&e.to_be_bytes());
    }
    ad
}

/// Calls `try_window` on every `len`-byte window of every file that could be a wrapped
/// key: every offset, except windows holding a run of 8 zero bytes (random bytes never
/// do: the chance is about 2^-59 per window), which skips the empty space of pages and
/// WAL segments. Every offset matters: PostgreSQL's WAL may log an updated row without
/// the bytes it shares with the old one, length headers included. Two threads.
fn scan(files: &[(PathBuf, Vec<u8>)], len: usize, try_window: impl Fn(&[u8]) + Sync) {
    let half = files.len() / 2;
    std::thread::scope(|s| {
        for part in [&files[..half], &files[half..]] {
            let try_window = &try_window;
            s.spawn(move || {
                for (_, data) in part {
                    if data.len() < len {
                        continue;
                    }
                    // zeros[j]: how many runs of 8 zeros start before offset j.
                    let mut zeros = vec![0u32; data.len() + 1];
                    let mut run = 0usize;
                    for j in (0..data.len()).rev() {
                        run = if data[j] == 0 { run + 1 } else { 0 };
                        zeros[j] = u32::from(run >= 8);
                    }
                    let mut before = 0u32;
                    for z in zeros.iter_mut() {
                        let here = *z;
                        *z = before;
                        before += here;
                    }
                    for i in 0..=data.len() - len {
                        if zeros[i + len - 7] == zeros[i] {
                            try_window(&data[i..i + len]);
                        }
                    }
                }
            });
        }
    });
}

fn found_once(found: std::sync::Mutex<Vec<Vec<u8>>>) -> Vec<Vec<u8>> {
    let mut found = found.into_inner().unwrap();
    found.sort();
    found.dedup();
    found
}

impl Adversary {
    fn derive(&self, info: &[u8]) -> LessSafeKey {
        let mut out = [0u8; 32];
        hkdf::Hkdf::<sha2::Sha256>::new(None, &self.master)
            .expand(info, &mut out)
            .unwrap();
        cipher(&out)
    }

    /// Every epoch key (of epochs 1 to 3, all there are) any file yields under the master
    /// key.
    fn epoch_keys(&self, files: &[(PathBuf, Vec<u8>)]) -> Vec<(u32, Vec<u8>)> {
        let wrap = self.derive(b"medchain epoch key wrap v1");
        let ads: Vec<(u32, Vec<u8>)> = (1..=3u32)
            .map(|n| {
                (
                    n,
                    [&b"medchain epoch key v1|"[..], &n.to_be_bytes()].concat(),
                )
            })
            .collect();
        let found = std::sync::Mutex::new(Vec::new());
        scan(files, 60, |window| {
            for (n, ad) in &ads {
                if let Some(key) = open(&wrap, ad, window) {
                    found
                        .lock()
                        .unwrap()
                        .push([&n.to_be_bytes()[..], &key].concat());
                }
            }
        });
        found_once(found)
            .into_iter()
            .map(|k| {
                (
                    u32::from_be_bytes(k[..4].try_into().unwrap()),
                    k[4..].to_vec(),
                )
            })
            .collect()
    }

    /// Every copy of `subject`'s key the files give up: under the master key's own wrap
    /// (before key epochs) or under any epoch key found.
    fn subject_keys(
        &self,
        subject: Uuid,
        epochs: &[(u32, Vec<u8>)],
        files: &[(PathBuf, Vec<u8>)],
    ) -> Vec<Vec<u8>> {
        let mut keys = vec![(
            self.derive(b"medchain subject key wrap v1"),
            ad(b"medchain subject key v1|", subject, None),
        )];
        for (n, epoch) in epochs {
            keys.push((
                cipher(epoch),
                ad(b"medchain subject key v2|", subject, Some(*n)),
            ));
        }
        let found = std::sync::Mutex::new(Vec::new());
        scan(files, 60, |window| {
            for (key, ad) in &keys {
                if let Some(k) = open(key, ad, window) {
                    found.lock().unwrap().push(k);
                }
            }
        });
        found_once(found)
    }

    /// Every copy of `record`'s data key the files give up, given its owner's key.
    fn data_keys(
        &self,
        record: Uuid,
        owner_key: &[u8],
        epochs: &[(u32, Vec<u8>)],
        files: &[(PathBuf, Vec<u8>)],
    ) -> Vec<Vec<u8>> {
        let owner = cipher(owner_key);
        let inner_ad = ad(b"medchain data key v1|", record, None);
        let outer: Vec<_> = epochs
            .iter()
            .map(|(n, epoch)| {
                (
                    cipher(epoch),
                    ad(b"medchain data key epoch v2|", record, Some(*n)),
                )
            })
            .collect();
        let found = std::sync::Mutex::new(Vec::new());
        scan(files, 88, |window| {
            for (epoch, ad) in &outer {
                if let Some(k) =
                    open(epoch, ad, window).and_then(|inner| open(&owner, &inner_ad, &inner))
                {
                    found.lock().unwrap().push(k);
                }
            }
        });
        found_once(found)
    }
}

/// Opens a sealed field (`aes256gcm:` + base64url of nonce ‖ ciphertext ‖ tag, bound to
/// its stream and field) with a key the adversary recovered.
fn open_field(key: &[u8], stream: &str, field: &str, sealed: &str) -> Option<String> {
    let bytes = URL_SAFE_NO_PAD
        .decode(sealed.strip_prefix("aes256gcm:")?)
        .ok()?;
    let mut ad = b"medchain field v1".to_vec();
    for part in [stream, field] {
        ad.extend_from_slice(&(part.len() as u64).to_be_bytes());
        ad.extend_from_slice(part.as_bytes());
    }
    if bytes.len() > 128 {
        return None;
    }
    String::from_utf8(open(&cipher(key), &ad, &bytes)?).ok()
}

/// `medchain serve` on the embedded default in `dir`: the whole deployment (its private
/// PostgreSQL cluster with its WAL, the master key, the key epochs, blobs, outbox and
/// checkpoints) is that one directory.
fn serve_embedded(dir: &Path) -> (common::serve::Server, String) {
    common::serve::start_embedded(dir, &[("MEDCHAIN_MFA_REQUIRED", "")])
}

/// A `medchain` command on the embedded deployment in `dir` (borrowing its cluster).
async fn cli(dir: &Path, args: &[&str]) -> String {
    let out = tokio::process::Command::new(common::serve::BIN)
        .args(args)
        .arg("--data-dir")
        .arg(dir)
        .env_remove("DATABASE_URL")
        .env_remove("MEDCHAIN_MASTER_KEY_FILE")
        .env_remove("MEDCHAIN_KEY_EPOCH_STORE")
        .env("MEDCHAIN_ADMIN_PASSWORD", common::app::STRONG)
        .env("RUST_LOG", "warn")
        .stdin(std::process::Stdio::null())
        .output()
        .await
        .unwrap();
    assert!(
        out.status.success(),
        "{args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

/// Every file of the deployment, read.
/// Every file of the deployment in `dir`, read after a checkpoint: without one the
/// newest rows live only in the WAL, where a page header may fall inside a wrapped key
/// (a WAL record is not contiguous across its 8 KiB pages), and the control search for
/// a live person's key would then miss by chance. The checkpoint only adds to what the
/// adversary reads, so it never weakens the "nothing opens" checks.
async fn deployment_files(dir: &Path) -> Vec<(PathBuf, Vec<u8>)> {
    let url = medchain::embedded::DataDir::open(dir)
        .unwrap()
        .url("postgres");
    let mut db = sqlx::PgConnection::connect(&url).await.unwrap();
    sqlx::query("CHECKPOINT").execute(&mut db).await.unwrap();
    db.close().await.unwrap();
    common::records::files_under(dir)
        .into_iter()
        .filter_map(|p| std::fs::read(&p).ok().map(|data| (p, data)))
        .collect()
}

async fn gql_ok(addr: &str, token: Option<&str>, query: &str, variables: Value) -> Value {
    let answer = common::serve::gql(addr, token, query, variables).await;
    assert!(answer["errors"].is_null(), "{query}: {answer}");
    answer["data"].clone()
}

async fn login(addr: &str, email: &str) -> String {
    common::serve::login_at(addr, email, common::app::STRONG).await
}

async fn register(addr: &str, email: &str, name: &str) -> (String, String) {
    let data = gql_ok(
        addr,
        None,
        "mutation($i: RegisterInput!) { register(input: $i) { id } }",
        json!({"i": {"email": email, "password": common::app::STRONG, "name": name, "role": "PATIENT"}}),
    )
    .await;
    (
        data["register"]["id"].as_str().unwrap().to_owned(),
        login(addr, email).await,
    )
}

/// A sealed field of the first event of `event_type` on `stream`, as the ledger holds it.
async fn sealed_field(
    addr: &str,
    admin: &str,
    stream: &str,
    event_type: &str,
    field: &str,
) -> String {
    let data = gql_ok(
        addr,
        Some(admin),
        "query($s: String!, $t: String!) { ledger(stream: $s, type: $t, first: 1) { edges { node { payload } } } }",
        json!({"s": stream, "t": event_type}),
    )
    .await;
    data["ledger"]["edges"][0]["node"]["payload"][field]
        .as_str()
        .unwrap()
        .to_owned()
}

async fn count_of(addr: &str, admin: &str, event_type: &str) -> usize {
    let data = gql_ok(
        addr,
        Some(admin),
        "query($t: String!) { ledger(type: $t, first: 100) { edges { node { seq } } } }",
        json!({"t": event_type}),
    )
    .await;
    data["ledger"]["edges"].as_array().unwrap().len()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn after_an_erasure_and_one_rotation_no_file_opens_the_persons_keys() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    let (_server, addr) = serve_embedded(dir);
    cli(
        dir,
        &[
            "admin",
            "create",
            "--email",
            "root@example.org",
            "--name",
            "Ada Admin",
        ],
    )
    .await;
    let admin = login(&addr, "root@example.org").await;
    let (pat_id, pat) = register(&addr, "pat@example.org", "Pat Lee").await;
    let (bo_id, bo) = register(&addr, "bo@example.org", "Bo Reyes").await;
    let record = common::serve::upload_at(&addr, &pat, "HIV test, positive", pdf("R", 4096)).await;
    common::serve::upload_at(&addr, &bo, "Bo's scan", pdf("B", 2048)).await;
    let pat_uuid = Uuid::parse_str(&pat_id).unwrap();
    let record_id = Uuid::parse_str(&record).unwrap();
    let master = std::fs::read_to_string(dir.join("master.key")).unwrap();
    let mut key = [0u8; 32];
    hex::decode_to_slice(master.trim(), &mut key).unwrap();
    let adversary = Adversary { master: key };
    let name = sealed_field(
        &addr,
        &admin,
        &format!("user-{pat_id}"),
        "UserRegistered",
        "name",
    )
    .await;
    let title = sealed_field(
        &addr,
        &admin,
        &format!("record-{record}"),
        "RecordUploaded",
        "title",
    )
    .await;

    let erased = gql_ok(&addr, Some(&admin), ERASE_USER, json!({"id": pat_id})).await;
    assert_eq!(erased["eraseUser"]["status"], "ERASED");
    let cert = |s: String| {
        let (addr, admin) = (addr.clone(), admin.clone());
        async move {
            gql_ok(&addr, Some(&admin), CERTIFICATE, json!({"s": s})).await["erasureCertificate"]
                .clone()
        }
    };

    // Before a rotation the erasure is not complete, and rightly: the WAL still holds
    // the rows, and epoch 1's key opens them.
    let before = cert(format!("user-{pat_id}")).await;
    assert_eq!(before["complete"], false, "{before}");
    assert_eq!(before["epochs"], json!([1]));
    assert!(
        before["dueBy"].is_string() && before["completeAt"].is_null(),
        "{before}"
    );
    let files = deployment_files(dir).await;
    let epochs = adversary.epoch_keys(&files);
    assert_eq!(epochs.iter().map(|(n, _)| *n).collect::<Vec<_>>(), [1]);
    let keys = adversary.subject_keys(pat_uuid, &epochs, &files);
    assert!(
        !keys.is_empty(),
        "the search finds the key while epoch 1 lives"
    );
    let opened: Vec<_> = keys
        .iter()
        .filter_map(|k| open_field(k, &format!("user-{pat_id}"), "name", &name))
        .collect();
    assert_eq!(opened, ["Pat Lee"], "and with it the name");
    let data_keys = adversary.data_keys(record_id, &keys[0], &epochs, &files);
    let titles: Vec<_> = data_keys
        .iter()
        .filter_map(|k| open_field(k, &format!("record-{record}"), "title", &title))
        .collect();
    assert_eq!(titles, ["HIV test, positive"], "and the record's title");

    let rotated = gql_ok(&addr, Some(&admin), ROTATE, json!({})).await;
    assert_eq!(rotated["rotateKeyEpoch"]["number"], 2);

    let files = deployment_files(dir).await;
    let epochs = adversary.epoch_keys(&files);
    assert_eq!(
        epochs.iter().map(|(n, _)| *n).collect::<Vec<_>>(),
        [2],
        "epoch 1's key is gone from every file"
    );
    assert!(
        adversary.subject_keys(pat_uuid, &epochs, &files).is_empty(),
        "no key of the erased person opens"
    );
    assert!(
        !adversary
            .subject_keys(Uuid::parse_str(&bo_id).unwrap(), &epochs, &files)
            .is_empty(),
        "while the same search still finds a live person's key, under epoch 2"
    );

    let after = cert(format!("user-{pat_id}")).await;
    assert_eq!(after["complete"], true, "{after}");
    assert!(after["completeAt"].is_string() && after["dueBy"].is_null());
    assert_eq!(after["basis"], "OTHER");
    let document = after["document"].to_string();
    let verified = domain::ledger::verify_document("certificate", &document).unwrap();
    assert_eq!(
        hex::encode(verified.key.as_bytes()),
        cli(dir, &["ledger", "pubkey"]).await.trim()
    );
    assert_eq!(verified.report["subject"], format!("user-{pat_id}"));
    assert_eq!(verified.report["complete"], true);
    let record_cert = cert(format!("record-{record}")).await;
    assert_eq!(record_cert["complete"], true, "{record_cert}");

    // Journalled beside the checkpoints, signed, for a restore to re-apply.
    let store =
        commands::ledger::CheckpointStore::open(dir.join("checkpoints").to_str().unwrap()).unwrap();
    let log = commands::keys::LedgerKey::load_or_create(&dir.join("ledger.key"))
        .unwrap()
        .public();
    let journalled: Vec<String> = commands::ledger::journal_entries(&store, &log)
        .await
        .unwrap()
        .iter()
        .map(|entry| entry.subject.to_string())
        .collect();
    assert_eq!(
        journalled,
        [format!("user-{pat_id}"), format!("record-{record}")]
    );

    // The ledger says so too, and still verifies, by our code and an auditor's.
    assert_eq!(count_of(&addr, &admin, "KeyEpochRetired").await, 1);
    assert_eq!(count_of(&addr, &admin, "ErasureCompleted").await, 2);
    assert!(cli(dir, &["ledger", "verify"]).await.starts_with("OK: "));
    let export = dir.join("export.jsonl");
    cli(
        dir,
        &["ledger", "export", "--out", export.to_str().unwrap()],
    )
    .await;
    let out = common::python_verify_export(&export, None);
    assert!(out.starts_with("OK: "), "{out}");
}

async fn certificate(app: &TestApp, token: &str, subject: &str) -> Value {
    app.gql(Cred::Bearer(token), CERTIFICATE, json!({"s": subject}))
        .await
        .ok()["erasureCertificate"]
        .clone()
}

/// `ledger verify`'s check, and the auditor's independent verifier over an export.
async fn ledger_verifies(app: &TestApp) {
    let check =
        commands::ledger::verify_against_checkpoints(&app.pool, &app.checkpoint_store(), None)
            .await
            .unwrap();
    assert!(check.outcome.is_ok(), "{:?}", check.outcome);
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("ledger.jsonl");
    let mut file = std::io::BufWriter::new(std::fs::File::create(&path).unwrap());
    let n = commands::ledger::export_jsonl(&app.pool, &mut file)
        .await
        .unwrap();
    drop(file);
    let out = common::python_verify_export(&path, None);
    assert!(out.starts_with(&format!("OK: {n} events")), "{out}");
}

/// Each person's records: (owner's token, record id, the bytes uploaded).
async fn some_records(
    app: &TestApp,
    admin: &Person,
    people: usize,
) -> Vec<(String, String, Vec<u8>)> {
    let mut out = Vec::new();
    for i in 0..people {
        let who = person(
            app,
            admin,
            &format!("p{i}@example.org"),
            "Pat Lee",
            "PATIENT",
        )
        .await;
        for j in 0..2 {
            let bytes = pdf(&format!("record {i}.{j}"), 3000 + 100 * j);
            let id = upload_ok(app, &who.token, &format!("Lab {i}.{j}"), bytes.clone()).await;
            out.push((who.token.clone(), id, bytes));
        }
    }
    out
}

async fn all_download(app: &TestApp, records: &[(String, String, Vec<u8>)]) {
    for (token, id, bytes) in records {
        let (status, _, body) = content(app, Some(token), id, false).await;
        assert_eq!(status, 200, "{id}");
        assert!(
            body.as_ref().unwrap() == bytes,
            "{id} comes back byte for byte"
        );
    }
}

async fn keys_per_epoch(app: &TestApp) -> Vec<(Option<i32>, i64)> {
    app.key_ring().keys_per_epoch(&app.pool).await.unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_rotation_killed_halfway_is_finished_by_the_next_start() {
    use tokio::io::{AsyncBufReadExt as _, BufReader};
    let mut app = TestApp::start().await;
    let (id, token) = app.create_admin("root@example.org", "Ada Admin").await;
    let admin = Person { id, token };
    let records = some_records(&app, &admin, 3).await;

    // `medchain keys rotate`, stopped for good after two batches of one key each, then
    // killed (SIGKILL): the new epoch begun, some keys moved, the old epoch's key alive.
    let data = tempfile::tempdir().unwrap();
    let mut rotate = common::cli::command(&app, data.path(), &["keys", "rotate"])
        .env("MEDCHAIN_TEST_ROTATION_BATCH", "1")
        .env("MEDCHAIN_TEST_ROTATION_PAUSE_AFTER", "2")
        .stderr(std::process::Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(rotate.stderr.take().unwrap()).lines();
    let paused = tokio::time::timeout(Duration::from_secs(60), async {
        while let Some(line) = lines.next_line().await.unwrap() {
            if line.contains("rotation paused") {
                return true;
            }
        }
        false
    })
    .await
    .expect("the rotation reaches its pause point");
    assert!(paused);
    rotate.kill().await.unwrap();

    let split = keys_per_epoch(&app).await;
    assert!(
        split.iter().any(|(e, n)| *e == Some(1) && *n > 0)
            && split.iter().any(|(e, n)| *e == Some(2) && *n > 0),
        "halfway: keys under both epochs, {split:?}"
    );
    let retired: i64 =
        sqlx::query_scalar("SELECT count(*) FROM key_epochs WHERE retired_at IS NOT NULL")
            .fetch_one(&app.pool)
            .await
            .unwrap();
    assert_eq!(retired, 0);
    // Meanwhile the running server reads both epochs.
    all_download(&app, &records).await;

    app.restart().await;
    let split = keys_per_epoch(&app).await;
    assert!(
        split.iter().all(|(e, _)| *e == Some(2)),
        "every key moved: {split:?}"
    );
    let epochs: Vec<(i32, bool)> =
        sqlx::query_as("SELECT number, retired_at IS NOT NULL FROM key_epochs ORDER BY number")
            .fetch_all(&app.pool)
            .await
            .unwrap();
    assert_eq!(epochs, [(1, true), (2, false)]);
    assert_eq!(
        app.epoch_store().list().unwrap(),
        [2],
        "epoch 1's key destroyed"
    );
    assert_eq!(app.count_events("KeyEpochRetired").await, 1);
    all_download(&app, &records).await;
    ledger_verifies(&app).await;
}

/// One GraphQL operation to a server at `addr`.
async fn gql_at(addr: std::net::SocketAddr, token: &str, query: &str) -> Value {
    common::serve::gql(&addr.to_string(), Some(token), query, json!({})).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_processes_rotate_one_at_a_time_while_uploads_and_downloads_go_on() {
    let app = TestApp::start().await;
    let other = app.another_server().await;
    let (id, token) = app.create_admin("root@example.org", "Ada Admin").await;
    let admin = Person {
        id,
        token: token.clone(),
    };
    let mut records = some_records(&app, &admin, 2).await;

    // While one holds the rotation, nobody else rotates: both servers say CONFLICT.
    let mut holder = sqlx::PgConnection::connect(&app.db.url).await.unwrap();
    sqlx::query("SELECT pg_advisory_lock($1)")
        .bind(commands::keys::ROTATION_LOCK)
        .execute(&mut holder)
        .await
        .unwrap();
    for addr in [app.addr, other.addr] {
        let busy = gql_at(addr, &token, ROTATE).await;
        assert_eq!(
            busy["errors"][0]["extensions"]["code"], "CONFLICT",
            "{busy}"
        );
    }
    drop(holder);

    // Rotations on both servers by turns, while a patient uploads and downloads through
    // both: every request succeeds.
    let patient = person(&app, &admin, "busy@example.org", "Busy Bee", "PATIENT").await;
    let rotations = async {
        let mut numbers = Vec::new();
        for addr in [app.addr, other.addr, app.addr, other.addr] {
            let done = gql_at(addr, &token, ROTATE).await;
            numbers.push(
                done["data"]["rotateKeyEpoch"]["number"]
                    .as_i64()
                    .unwrap_or_else(|| panic!("{done}")),
            );
        }
        numbers
    };
    let traffic = async {
        let mut mine = Vec::new();
        for i in 0..12 {
            let bytes = pdf(&format!("during {i}"), 5000);
            let id = upload_ok(&app, &patient.token, &format!("During {i}"), bytes.clone()).await;
            mine.push((patient.token.clone(), id, bytes));
            all_download(&app, &mine).await;
        }
        mine
    };
    let (numbers, mine) = tokio::join!(rotations, traffic);
    assert_eq!(numbers, [2, 3, 4, 5]);
    records.extend(mine);
    let split = keys_per_epoch(&app).await;
    assert!(split.iter().all(|(e, _)| *e == Some(5)), "{split:?}");
    assert_eq!(app.epoch_store().list().unwrap(), [5]);
    all_download(&app, &records).await;
    ledger_verifies(&app).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_scheduled_rotation_completes_a_record_erasure_and_tells_its_owner() {
    let mut app = TestApp::start().await;
    app.key_epoch = Duration::from_secs(20 * 60);
    app.restart().await;
    let cast = cast(&app).await;
    let record = upload_ok(&app, &cast.patient.token, "Old scan", pdf("O", 2048)).await;
    let erased = app
        .gql(
            Cred::Bearer(&cast.patient.token),
            "mutation($id: UUID!) { eraseRecord(recordId: $id, reason: \"duplicate\", basis: DUPLICATE) { status } }",
            json!({"id": record}),
        )
        .await;
    assert_eq!(erased.ok()["eraseRecord"]["status"], "ERASED");
    // The owner may see their record's certificate; a doctor may not.
    let mine = certificate(&app, &cast.patient.token, &format!("record-{record}")).await;
    assert_eq!(mine["complete"], false);
    assert_eq!(mine["basis"], "DUPLICATE");
    let refused = app
        .gql(
            Cred::Bearer(&cast.doctor.token),
            CERTIFICATE,
            json!({"s": format!("record-{record}")}),
        )
        .await;
    refused.expect_code("NOT_FOUND");
    let bad = app
        .gql(
            Cred::Bearer(&cast.admin.token),
            CERTIFICATE,
            json!({"s": "record-nope"}),
        )
        .await;
    bad.expect_code("BAD_USER_INPUT");

    // Twenty minutes on (sessions last 30 idle), the server rotates by itself.
    app.clock.advance(Duration::from_secs(20 * 60 + 1));
    eventually(
        Duration::from_secs(120),
        "the scheduled rotation",
        || async {
            let c = certificate(&app, &cast.patient.token, &format!("record-{record}")).await;
            (c["complete"] == true).then_some(())
        },
    )
    .await;
    app.view_settled("notifications").await;
    let notices = app
        .gql(
            Cred::Bearer(&cast.patient.token),
            "{ notifications(first: 20) { edges { node { kind message } } } }",
            json!({}),
        )
        .await;
    let text = notices.ok().to_string();
    assert!(text.contains("ERASURE_COMPLETED"), "{text}");
    let epochs = app
        .gql(
            Cred::Bearer(&cast.admin.token),
            "{ keyEpochs { number startedAt retiredAt keys } }",
            json!({}),
        )
        .await;
    let epochs = epochs.ok()["keyEpochs"].as_array().unwrap().clone();
    assert_eq!(epochs.len(), 2);
    assert!(epochs[0]["retiredAt"].is_string() && epochs[1]["retiredAt"].is_null());
    let not_admin = app
        .gql(
            Cred::Bearer(&cast.patient.token),
            "{ keyEpochs { number } }",
            json!({}),
        )
        .await;
    not_admin.expect_code("FORBIDDEN");
}

/// A data directory from before key epochs (its keys wrapped as the earlier code wrapped
/// them): the first start moves them into epoch 1, and everything written before still
/// opens. An erasure of a key made before epochs says honestly that no rotation completes
/// it: an old copy of its row opens with the master key itself.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn keys_from_before_epochs_move_into_epoch_1_and_everything_still_opens() {
    let mut app = TestApp::start().await;
    let c = cast(&app).await;
    let records = vec![(
        c.patient.token.clone(),
        upload_ok(&app, &c.patient.token, "Old scan", pdf("old", 3000)).await,
        pdf("old", 3000),
    )];
    app.stop().await;
    app.key_ring()
        .downgrade_to_before_epochs(&app.pool)
        .await
        .unwrap();
    let before: Vec<(Option<i32>, i64)> = keys_per_epoch(&app).await;
    assert!(before.iter().all(|(e, _)| e.is_none()), "{before:?}");

    app.start_server().await;
    let after = keys_per_epoch(&app).await;
    assert!(after.iter().all(|(e, _)| *e == Some(1)), "{after:?}");
    let patient = app.login("pat@example.org", common::app::STRONG).await;
    let me = app.me(Cred::Bearer(&patient)).await;
    assert_eq!(me.ok()["me"]["name"], "Pat Lee", "sealed fields still open");
    all_download(&app, &records).await;

    // An erasure of a key made before epochs is never complete by rotation.
    let record = &records[0].1;
    app.gql(
        Cred::Bearer(&patient),
        "mutation($id: UUID!) { eraseRecord(recordId: $id, reason: \"old\") { status } }",
        json!({"id": record}),
    )
    .await
    .ok();
    app.gql(Cred::Bearer(&c.admin.token), ROTATE, json!({}))
        .await
        .ok();
    let c2 = certificate(&app, &c.admin.token, &format!("record-{record}")).await;
    assert_eq!(c2["epochs"], json!([0, 1]), "{c2}");
    assert_eq!(c2["complete"], false);
    assert!(c2["dueBy"].is_null(), "{c2}");
}
