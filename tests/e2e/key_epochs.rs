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
use aes_gcm::{
    Aes256Gcm,
    aead::{Aead, KeyInit, Payload},
};
use base64::{Engine, engine::general_purpose::URL_SAFE_NO_PAD};
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
/// DESIGN.md §11 with their own code.
struct Adversary {
    master: [u8; 32],
}

/// `nonce ‖ ciphertext ‖ tag`, opened under `key` with associated data `ad`.
fn open(key: &Aes256Gcm, ad: &[u8], wrapped: &[u8]) -> Option<Vec<u8>> {
    let (nonce, sealed) = wrapped.split_at(12);
    key.decrypt(
        nonce.try_into().ok()?,
        Payload {
            msg: sealed,
            aad: ad,
        },
    )
    .ok()
}

fn ad(prefix: &[u8], id: Uuid, epoch: Option<u32>) -> Vec<u8> {
    let mut ad = [prefix, id.as_bytes()].concat();
    if let Some(e) = epoch {
        ad.extend_from_slice(&e.to_be_bytes());
    }
    ad
}

/// Every place a wrapped key of `len` bytes could be: anywhere in a small file (a key
/// store), and in the database's files wherever a bytea of that length starts (its 1-byte
/// varlena header, `(len + 1) << 1 | 1`, in the table's pages and in the WAL alike).
fn windows<'a>(data: &'a [u8], len: usize, small: bool) -> impl Iterator<Item = &'a [u8]> + 'a {
    let header = (((len + 1) << 1) | 1) as u8;
    (0..(data.len() + 1).saturating_sub(len)).filter_map(move |i| {
        if small {
            Some(&data[i..i + len])
        } else {
            (data[i] == header && i + 1 + len <= data.len()).then(|| &data[i + 1..i + 1 + len])
        }
    })
}

impl Adversary {
    fn derive(&self, info: &[u8]) -> Aes256Gcm {
        let mut out = [0u8; 32];
        hkdf::Hkdf::<sha2::Sha256>::new(None, &self.master)
            .expand(info, &mut out)
            .unwrap();
        Aes256Gcm::new(&out.into())
    }

    /// Every epoch key any file yields under the master key.
    fn epoch_keys(&self, files: &[(PathBuf, Vec<u8>)]) -> Vec<(u32, Aes256Gcm)> {
        let wrap = self.derive(b"medchain epoch key wrap v1");
        let mut found: Vec<(u32, Aes256Gcm)> = Vec::new();
        for (_, data) in files {
            for window in windows(data, 60, data.len() < 4096) {
                for n in 1..=16u32 {
                    let ad = [&b"medchain epoch key v1|"[..], &n.to_be_bytes()].concat();
                    if let Some(key) = open(&wrap, &ad, window)
                        && !found.iter().any(|(m, _)| *m == n)
                    {
                        found.push((n, Aes256Gcm::new_from_slice(&key).unwrap()));
                    }
                }
            }
        }
        found
    }

    /// Every copy of `subject`'s key the files give up: under the master key's own wrap
    /// (before key epochs) or under any epoch key found.
    fn subject_keys(&self, subject: Uuid, files: &[(PathBuf, Vec<u8>)]) -> Vec<Vec<u8>> {
        let epochs = self.epoch_keys(files);
        let legacy = self.derive(b"medchain subject key wrap v1");
        let mut found = Vec::new();
        for (_, data) in files {
            for window in windows(data, 60, false) {
                let mut keys = vec![open(
                    &legacy,
                    &ad(b"medchain subject key v1|", subject, None),
                    window,
                )];
                for (n, epoch) in &epochs {
                    keys.push(open(
                        epoch,
                        &ad(b"medchain subject key v2|", subject, Some(*n)),
                        window,
                    ));
                }
                found.extend(keys.into_iter().flatten());
            }
        }
        found.sort();
        found.dedup();
        found
    }

    /// Every copy of `record`'s data key the files give up, given its owner's key.
    fn data_keys(
        &self,
        record: Uuid,
        owner_key: &[u8],
        files: &[(PathBuf, Vec<u8>)],
    ) -> Vec<Vec<u8>> {
        let epochs = self.epoch_keys(files);
        let owner = Aes256Gcm::new_from_slice(owner_key).unwrap();
        let mut found = Vec::new();
        for (_, data) in files {
            for window in windows(data, 88, false) {
                for (n, epoch) in &epochs {
                    let inner = open(
                        epoch,
                        &ad(b"medchain data key epoch v2|", record, Some(*n)),
                        window,
                    );
                    found.extend(inner.and_then(|inner| {
                        open(&owner, &ad(b"medchain data key v1|", record, None), &inner)
                    }));
                }
            }
        }
        found.sort();
        found.dedup();
        found
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
    let key = Aes256Gcm::new_from_slice(key).ok()?;
    String::from_utf8(open(&key, &ad, &bytes)?).ok()
}

/// Every file of the deployment: this database's own files in the PostgreSQL data
/// directory with the cluster's WAL and shared files (other tests' databases excepted),
/// the blob store, the outbox, the checkpoints, the key-epoch store.
async fn deployment_files(app: &TestApp) -> Vec<(PathBuf, Vec<u8>)> {
    sqlx::query("CHECKPOINT").execute(&app.pool).await.ok();
    let data_dir: String = sqlx::query_scalar("SHOW data_directory")
        .fetch_one(&app.pool)
        .await
        .unwrap();
    let own: (u32,) = sqlx::query_as(
        "SELECT oid::int8::int4 FROM pg_database WHERE datname = current_database()",
    )
    .fetch_one(&app.pool)
    .await
    .map(|(o,): (i32,)| (o as u32,))
    .unwrap();
    let others: Vec<i32> = sqlx::query_scalar(
        "SELECT oid::int8::int4 FROM pg_database WHERE datname <> current_database()",
    )
    .fetch_all(&app.pool)
    .await
    .unwrap();
    let base = Path::new(&data_dir).join("base");
    let skip: Vec<PathBuf> = others
        .iter()
        .map(|o| base.join(o.to_string()))
        .filter(|p| !p.ends_with(own.0.to_string()))
        .collect();
    let mut paths = common::records::files_under(Path::new(&data_dir));
    paths.retain(|p| !skip.iter().any(|s| p.starts_with(s)));
    for dir in [
        app.blobs.path(),
        app.outbox.path(),
        app.checkpoints.path(),
        app.key_epochs.path(),
    ] {
        paths.extend(common::records::files_under(dir));
    }
    paths
        .into_iter()
        .filter_map(|p| std::fs::read(&p).ok().map(|data| (p, data)))
        .collect()
}

async fn certificate(app: &TestApp, token: &str, subject: &str) -> Value {
    app.gql(Cred::Bearer(token), CERTIFICATE, json!({"s": subject}))
        .await
        .ok()["erasureCertificate"]
        .clone()
}

/// The person's name, sealed on the ledger at registration.
async fn sealed_name(app: &TestApp, person: &str) -> String {
    sqlx::query_scalar(
        "SELECT payload->>'name' FROM events WHERE stream = $1 AND type = 'UserRegistered'",
    )
    .bind(format!("user-{person}"))
    .fetch_one(&app.pool)
    .await
    .unwrap()
}

async fn sealed_title(app: &TestApp, record: &str) -> String {
    sqlx::query_scalar(
        "SELECT payload->>'title' FROM events WHERE stream = $1 AND type = 'RecordUploaded'",
    )
    .bind(format!("record-{record}"))
    .fetch_one(&app.pool)
    .await
    .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn after_an_erasure_and_one_rotation_no_file_opens_the_persons_keys() {
    let app = TestApp::start().await;
    let cast = cast(&app).await;
    let bo = person(&app, &cast.admin, "bo@example.org", "Bo Reyes", "PATIENT").await;
    let record = upload_ok(
        &app,
        &cast.patient.token,
        "HIV test, positive",
        pdf("R", 4096),
    )
    .await;
    upload_ok(&app, &bo.token, "Bo's scan", pdf("B", 2048)).await;
    let pat = Uuid::parse_str(&cast.patient.id).unwrap();
    let record_id = Uuid::parse_str(&record).unwrap();
    let adversary = Adversary {
        master: app.master_key,
    };
    let name = sealed_name(&app, &cast.patient.id).await;
    let title = sealed_title(&app, &record).await;

    let erased = app
        .gql(
            Cred::Bearer(&cast.admin.token),
            ERASE_USER,
            json!({"id": cast.patient.id}),
        )
        .await;
    assert_eq!(erased.ok()["eraseUser"]["status"], "ERASED");
    let left: i64 = sqlx::query_scalar(
        "SELECT (SELECT count(*) FROM subject_keys WHERE subject_id = $1) \
              + (SELECT count(*) FROM record_keys WHERE owner_id = $1)",
    )
    .bind(pat)
    .fetch_one(&app.pool)
    .await
    .unwrap();
    assert_eq!(left, 0, "erasure deletes the rows");

    // Before a rotation the erasure is not complete, and rightly: the WAL still holds
    // the rows, and epoch 1's key opens them.
    let before = certificate(&app, &cast.admin.token, &format!("user-{pat}")).await;
    assert_eq!(before["complete"], false, "{before}");
    assert_eq!(before["epochs"], json!([1]));
    assert!(
        before["dueBy"].is_string() && before["completeAt"].is_null(),
        "{before}"
    );
    let files = deployment_files(&app).await;
    let keys = adversary.subject_keys(pat, &files);
    assert!(
        !keys.is_empty(),
        "the search finds the key while epoch 1 lives"
    );
    let opened: Vec<_> = keys
        .iter()
        .filter_map(|k| open_field(k, &format!("user-{pat}"), "name", &name))
        .collect();
    assert_eq!(opened, ["Pat Lee"], "and with it the name");
    let data_keys = adversary.data_keys(record_id, &keys[0], &files);
    let titles: Vec<_> = data_keys
        .iter()
        .filter_map(|k| open_field(k, &format!("record-{record}"), "title", &title))
        .collect();
    assert_eq!(titles, ["HIV test, positive"], "and the record's title");

    let rotated = app
        .gql(Cred::Bearer(&cast.admin.token), ROTATE, json!({}))
        .await;
    assert_eq!(rotated.ok()["rotateKeyEpoch"]["number"], 2);

    let files = deployment_files(&app).await;
    let epochs: Vec<u32> = adversary
        .epoch_keys(&files)
        .iter()
        .map(|(n, _)| *n)
        .collect();
    assert_eq!(epochs, [2], "epoch 1's key is gone from every file");
    assert!(
        adversary.subject_keys(pat, &files).is_empty(),
        "no key of the erased person opens"
    );
    let bo_id = Uuid::parse_str(&bo.id).unwrap();
    assert!(
        !adversary.subject_keys(bo_id, &files).is_empty(),
        "while the same search still finds a live person's key, under epoch 2"
    );

    let after = certificate(&app, &cast.admin.token, &format!("user-{pat}")).await;
    assert_eq!(after["complete"], true, "{after}");
    assert!(after["completeAt"].is_string() && after["dueBy"].is_null());
    assert_eq!(after["basis"], "OTHER");
    let document = after["document"].to_string();
    let verified = domain::ledger::verify_document("certificate", &document).unwrap();
    assert_eq!(verified.key, app.ledger_key.public());
    assert_eq!(verified.report["subject"], format!("user-{pat}"));
    assert_eq!(verified.report["complete"], true);
    let record_cert = certificate(&app, &cast.admin.token, &format!("record-{record}")).await;
    assert_eq!(record_cert["complete"], true, "{record_cert}");

    // The ledger says so too, and still verifies, by our code and an auditor's.
    assert_eq!(app.count_events("KeyEpochRetired").await, 1);
    assert_eq!(app.count_events("ErasureCompleted").await, 2);
    ledger_verifies(&app).await;
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
