//! Backups (issue 27): the database part alone (a base backup and the WAL archived
//! after it while events keep being appended: the restored cluster holds every
//! acknowledged event), and `medchain backup --follow` / `medchain restore` whole: more
//! writes, an erasure and a key rotation after the base backup, a restore that
//! verifies, erases again what the backup still held (the erased record's blob, the
//! retired epoch's key), and serves; the same backup changed by a byte refused.

use medchain::backup::database::{Layout, archive_wal, base_backup, create_slot};
use medchain::embedded::{PgBinaries, PrivateCluster};
use std::io::BufRead as _;
use std::time::Duration;

/// Runs `medchain dev append-loop` on `url` for `seconds`; the highest seq it saw
/// acknowledged.
fn append_for(url: &str, dir: &std::path::Path, seconds: u64) -> i64 {
    let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_medchain"))
        .args(["dev", "append-loop", "--data-dir"])
        .arg(dir)
        .env("DATABASE_URL", url)
        .env("RUST_LOG", "warn")
        .stdout(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let stdout = child.stdout.take().unwrap();
    let reader = std::thread::spawn(move || {
        std::io::BufReader::new(stdout)
            .lines()
            .map_while(Result::ok)
            .filter_map(|l| l.split_whitespace().next()?.parse::<i64>().ok())
            .max()
            .unwrap_or(0)
    });
    std::thread::sleep(Duration::from_secs(seconds));
    child.kill().unwrap();
    child.wait().unwrap();
    reader.join().unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_restore_from_a_base_backup_and_its_wal_reaches_the_last_acknowledged_event() {
    let tmp = tempfile::tempdir().unwrap();
    let bins = PgBinaries::find().unwrap();
    let primary = {
        let (bins, dir) = (bins.clone(), tmp.path().join("primary"));
        tokio::task::spawn_blocking(move || PrivateCluster::create(&bins, &dir).unwrap())
            .await
            .unwrap()
    };
    let url = primary.url();
    commands::db::connect_and_migrate(&url, 2).await.unwrap();
    let data = tmp.path().join("cli");
    let before = append_for(&url, &data, 1);
    assert!(before > 0);

    let layout = Layout {
        root: tmp.path().join("backup"),
    };
    std::fs::create_dir_all(layout.wal()).unwrap();
    base_backup(&bins, &url, &layout).unwrap();
    create_slot(&bins, &url, &layout).unwrap();
    let mut archiver = archive_wal(&bins, &url, &layout, None).unwrap();

    let acknowledged = append_for(&url, &data, 2);
    assert!(acknowledged > before);
    // The archiver has everything once it reports flushed what the primary flushed.
    let pool = sqlx::PgPool::connect(&url).await.unwrap();
    loop {
        let caught_up: bool = sqlx::query_scalar(
            "SELECT coalesce((SELECT flush_lsn >= pg_current_wal_flush_lsn() \
               FROM pg_stat_replication WHERE application_name = 'pg_receivewal'), false)",
        )
        .fetch_one(&pool)
        .await
        .unwrap();
        if caught_up {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    pool.close().await;
    archiver.kill().await.unwrap();
    drop(primary);

    let restored = {
        let (bins, dir, base, wal) = (
            bins.clone(),
            tmp.path().join("restored"),
            layout.base(),
            layout.wal(),
        );
        tokio::task::spawn_blocking(move || {
            PrivateCluster::restored(&bins, &dir, &base, &wal).unwrap()
        })
        .await
        .unwrap()
    };
    let pool = sqlx::PgPool::connect(&restored.url()).await.unwrap();
    loop {
        let recovering: bool = sqlx::query_scalar("SELECT pg_is_in_recovery()")
            .fetch_one(&pool)
            .await
            .unwrap();
        if !recovering {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let head: i64 = sqlx::query_scalar("SELECT max(seq) FROM events")
        .fetch_one(&pool)
        .await
        .unwrap();
    assert!(
        head >= acknowledged,
        "the restore reaches seq {head}, the last acknowledged was {acknowledged}"
    );
    pool.close().await;
    let verified = tokio::process::Command::new(env!("CARGO_BIN_EXE_medchain"))
        .args(["ledger", "verify", "--data-dir"])
        .arg(&data)
        .env("DATABASE_URL", restored.url())
        .env("RUST_LOG", "warn")
        .output()
        .await
        .unwrap();
    assert!(
        verified.status.success(),
        "{}{}",
        String::from_utf8_lossy(&verified.stdout),
        String::from_utf8_lossy(&verified.stderr)
    );
}

/// `medchain` with `args` on the data directory `dir` (the embedded default, no
/// settings from the environment): exit code, stdout, stderr.
async fn medchain(dir: &std::path::Path, args: &[&str]) -> (i32, String, String) {
    medchain_with(dir, args, &[]).await
}

/// `medchain` as above, with `env` set.
async fn medchain_with(
    dir: &std::path::Path,
    args: &[&str],
    env: &[(&str, &str)],
) -> (i32, String, String) {
    let out = tokio::process::Command::new(env!("CARGO_BIN_EXE_medchain"))
        .args(args)
        .arg("--data-dir")
        .arg(dir)
        .env_remove("DATABASE_URL")
        .env_remove("MEDCHAIN_MASTER_KEY_FILE")
        .env_remove("MEDCHAIN_KEY_EPOCH_STORE")
        .env_remove("MEDCHAIN_BLOB_STORE")
        .envs(env.iter().copied())
        .env("RUST_LOG", "warn")
        .output()
        .await
        .unwrap();
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

const PASSWORD: &str = crate::common::serve::PATIENT_PASSWORD;

/// Registers Pat Lee, a patient, at `addr` and signs her in: her token.
async fn patient(addr: &str) -> String {
    crate::common::serve::patient_at(addr).await
}

/// The master key and the ledger's key, kept apart from backups, brought by the
/// operator into the data directory a restore makes.
fn keys_brought(live: &std::path::Path, restored: &std::path::Path) {
    std::fs::create_dir_all(restored).unwrap();
    for key in ["master.key", "ledger.key"] {
        std::fs::copy(live.join(key), restored.join(key)).unwrap();
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn backup_then_writes_and_an_erasure_then_restore_verifies_and_erases_again() {
    use crate::common::serve::{login_at, start_embedded};
    let tmp = tempfile::tempdir().unwrap();
    let (live, backup, restored) = (
        tmp.path().join("live"),
        tmp.path().join("backup"),
        tmp.path().join("restored"),
    );
    let (server, addr) = start_embedded(&live, &[]);
    let token = patient(&addr).await;
    let erased = pdf_at(&addr, &token, "To be erased", "e").await;
    let kept = pdf_at(&addr, &token, "Kept", "k").await;
    let (code, _, err) = medchain(&live, &["ledger", "checkpoint"]).await;
    assert_eq!(code, 0, "{err}");

    // The backup follows the WAL while more happens: an upload and an erasure.
    let mut follower = tokio::process::Command::new(env!("CARGO_BIN_EXE_medchain"))
        .args(["backup", "--follow", "--out"])
        .arg(&backup)
        .arg("--data-dir")
        .arg(&live)
        .env_remove("DATABASE_URL")
        .env_remove("MEDCHAIN_MASTER_KEY_FILE")
        .env_remove("MEDCHAIN_KEY_EPOCH_STORE")
        .env_remove("MEDCHAIN_BLOB_STORE")
        .env("RUST_LOG", "warn")
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let stderr = follower.stderr.take().unwrap();
    let mut lines = tokio::io::AsyncBufReadExt::lines(tokio::io::BufReader::new(stderr));
    loop {
        let line = tokio::time::timeout(Duration::from_secs(60), lines.next_line())
            .await
            .expect("the backup says it archives")
            .unwrap()
            .expect("the backup is running");
        if line.contains("archiving WAL") {
            break;
        }
    }
    let later = pdf_at(&addr, &token, "After the base backup", "l").await;
    let erasure = erase_record(&addr, &token, &erased).await;
    assert!(erasure["errors"].is_null(), "{erasure}");
    // A key rotation retires the epoch whose key the backup's first copy holds.
    let (code, _, err) = medchain(&live, &["keys", "rotate"]).await;
    assert_eq!(code, 0, "{err}");
    let pid = follower.id().unwrap().to_string();
    let stopped = std::process::Command::new("kill")
        .args(["-TERM", &pid])
        .status()
        .unwrap();
    assert!(stopped.success());
    let status = tokio::time::timeout(Duration::from_secs(120), follower.wait())
        .await
        .expect("the backup ends after SIGTERM")
        .unwrap();
    assert!(status.success(), "backup: {status}");
    drop(server);

    // The master key and the ledger's key are kept apart from backups: the operator
    // brings them. Without the ledger's key the restore refuses, saying so.
    std::fs::create_dir_all(&restored).unwrap();
    std::fs::copy(live.join("master.key"), restored.join("master.key")).unwrap();
    let (code, _, err) =
        medchain(&restored, &["restore", "--from", backup.to_str().unwrap()]).await;
    assert_eq!(code, 1);
    assert!(err.contains("bring the ledger's key"), "{err}");
    std::fs::copy(live.join("ledger.key"), restored.join("ledger.key")).unwrap();
    let (code, said, err) =
        medchain(&restored, &["restore", "--from", backup.to_str().unwrap()]).await;
    assert_eq!(code, 0, "{said}{err}");
    assert!(said.contains("restore good"), "{said}");
    assert!(
        said.contains("1 blob(s) of erased records or people deleted again"),
        "{said}"
    );

    // The restored directory serves every record but the erased one.
    let (_restored_server, addr) = start_embedded(&restored, &[]);
    let token = login_at(&addr, "pat@example.org", PASSWORD).await;
    for id in [&kept, &later] {
        crate::common::serve::download_at(&addr, &token, id).await;
    }
    let gone = reqwest::Client::new()
        .get(format!("http://{addr}/api/records/{erased}/content"))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap()
        .status();
    assert_eq!(gone, 410, "the erased record stays erased");

    // The same backup changed by one byte is refused, naming the file.
    let segment = std::fs::read_dir(backup.join("wal"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .next()
        .expect("an archived WAL segment");
    let mut bytes = std::fs::read(&segment).unwrap();
    bytes[100] ^= 1;
    std::fs::write(&segment, bytes).unwrap();
    let (code, said, _) = medchain(
        &tmp.path().join("again"),
        &["restore", "--from", backup.to_str().unwrap()],
    )
    .await;
    assert_eq!(code, 1);
    assert!(
        said.starts_with("REFUSED: wal/") && said.contains("SHA-256"),
        "{said}"
    );
}

/// A backup taken, then more events, an erasure, a signed head and a witness's
/// cosignature of it, all in a checkpoint store that outlives the database; a restore
/// from the older backup cannot reach that head. It says so (exit 2), still applies the
/// journalled erasure the restored ledger has never heard of, and the server it leaves
/// answers queries but refuses anything that appends (and signs no head), because the
/// next event would fork the log the witness holds.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_restore_short_of_the_witnessed_head_erases_again_and_starts_read_only() {
    use crate::common::serve::{gql, start_embedded};
    use serde_json::json;
    let tmp = tempfile::tempdir().unwrap();
    let (live, backup, restored, heads) = (
        tmp.path().join("live"),
        tmp.path().join("backup"),
        tmp.path().join("restored"),
        tmp.path().join("heads"),
    );
    let (witness, witness_public) = crate::transparency::witness_key(tmp.path(), "alpha");
    let witnesses = format!("alpha={}", hex::encode(witness_public.as_bytes()));
    let env = [
        ("MEDCHAIN_CHECKPOINT_DIR", heads.to_str().unwrap()),
        ("MEDCHAIN_WITNESS_KEYS", witnesses.as_str()),
    ];
    let (server, addr) = start_embedded(&live, &env);
    let token = patient(&addr).await;
    let erased = pdf_at(&addr, &token, "Erased later", "e").await;
    let sha = gql(
        &addr,
        Some(&token),
        "query($r: UUID!) { record(id: $r) { sha256 } }",
        json!({"r": erased}),
    )
    .await;
    let erased_sha = sha["data"]["record"]["sha256"]
        .as_str()
        .unwrap_or_else(|| panic!("{sha}"))
        .to_owned();
    let kept = pdf_at(&addr, &token, "Kept", "k").await;
    let (code, _, err) = medchain_with(&live, &["ledger", "checkpoint"], &env).await;
    assert_eq!(code, 0, "{err}");
    let (code, said, err) =
        medchain_with(&live, &["backup", "--out", backup.to_str().unwrap()], &env).await;
    assert_eq!(code, 0, "{said}{err}");

    // After the backup: more events, an erasure (journalled beside the heads), a head
    // signed over them and a witness's cosignature of it.
    pdf_at(&addr, &token, "After the backup", "l").await;
    let erasure = erase_record(&addr, &token, &erased).await;
    assert!(erasure["errors"].is_null(), "{erasure}");
    let (code, _, err) = medchain_with(&live, &["ledger", "checkpoint"], &env).await;
    assert_eq!(code, 0, "{err}");
    let (code, err) = crate::transparency::witness_once(
        &format!("http://{addr}"),
        &witness,
        &tmp.path().join("alpha-state"),
        "alpha",
    )
    .await;
    assert_eq!(code, 0, "{err}");
    drop(server);

    keys_brought(&live, &restored);
    let (code, said, err) = medchain_with(
        &restored,
        &["restore", "--from", backup.to_str().unwrap()],
        &env,
    )
    .await;
    assert_eq!(code, 2, "{said}{err}");
    assert!(said.starts_with("RESTORED READ-ONLY: "), "{said}");
    assert!(
        said.contains("the head witness \"alpha\" cosigned"),
        "{said}"
    );
    assert!(said.contains("the erasure journal's entry for"), "{said}");
    // The erasure after the backup is applied again from the journal alone: the record's
    // blob is gone (copied into the backup before the erasure) and its key with it.
    assert!(
        said.contains("1 blob(s) of erased records or people deleted again"),
        "{said}"
    );
    assert!(backup.join("blobs/records").join(&erased_sha).exists());
    assert!(!restored.join("blobs/records").join(&erased_sha).exists());

    // The server it leaves answers queries and refuses what would append.
    let (_restored_server, addr) = start_embedded(&restored, &env);
    let read_only = gql(&addr, None, "{ readOnly }", json!({})).await;
    let reason = read_only["data"]["readOnly"]
        .as_str()
        .unwrap_or_default()
        .to_owned();
    assert!(
        reason.contains("does not reach the newest signed head"),
        "{read_only}"
    );
    let health: serde_json::Value = reqwest::get(format!("http://{addr}/health"))
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(health["readOnly"], reason.as_str(), "{health}");
    let mine = gql(
        &addr,
        Some(&token),
        "{ myRecords { edges { node { title } } } }",
        json!({}),
    )
    .await;
    let titles: Vec<&str> = mine["data"]["myRecords"]["edges"]
        .as_array()
        .unwrap_or_else(|| panic!("{mine}"))
        .iter()
        .map(|e| e["node"]["title"].as_str().unwrap_or_default())
        .collect();
    assert!(titles.contains(&"Kept"), "{mine}");
    let login = crate::common::serve::login_answer(&addr, "pat@example.org", PASSWORD).await;
    assert_eq!(
        login["errors"][0]["extensions"]["code"], "FORBIDDEN",
        "{login}"
    );
    assert_eq!(
        login["errors"][0]["extensions"]["reason"], "READ_ONLY",
        "{login}"
    );
    let (status, body) = crate::common::serve::post_record(
        &reqwest::Client::new(),
        &addr,
        &token,
        "Refused",
        "r.pdf",
        crate::common::records::pdf("r", 2_000),
    )
    .await;
    assert_eq!(status, 403);
    assert!(body.to_string().contains("read-only"), "{body}");
    // A read is recorded before its first byte; recording it would fork too.
    let read = reqwest::Client::new()
        .get(format!("http://{addr}/api/records/{kept}/content"))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap();
    assert_eq!(read.status(), 403);
    // No head is signed on the frozen ledger, by the command line either.
    let (code, _, err) = medchain_with(&restored, &["ledger", "checkpoint"], &env).await;
    assert_ne!(code, 0);
    assert!(err.contains("read-only"), "{err}");
}

/// Blobs and epoch keys in S3 (`moto_server`): the backup holds them as files, and a
/// restore puts them into another bucket, from which the restored server serves every
/// record.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn blobs_and_epoch_keys_in_s3_are_backed_up_and_restored_into_a_bucket() {
    use crate::common::serve::{download_at, login_at, start_embedded, upload_at};
    let moto = crate::common::moto::Moto::start().await;
    moto.create_bucket("live").await;
    moto.create_bucket("restored").await;
    let in_bucket = |bucket: &str| {
        let mut env = moto.env();
        env.push(("MEDCHAIN_BLOB_STORE", format!("s3://{bucket}/blobs")));
        env.push(("MEDCHAIN_KEY_EPOCH_STORE", format!("s3://{bucket}/epochs")));
        env
    };
    let (live_env, restored_env) = (in_bucket("live"), in_bucket("restored"));
    let refs = |env: &[(&'static str, String)]| -> Vec<(&'static str, String)> { env.to_vec() };
    let (live_pairs, restored_pairs) = (refs(&live_env), refs(&restored_env));
    let live_refs: Vec<(&str, &str)> = live_pairs.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let restored_refs: Vec<(&str, &str)> = restored_pairs
        .iter()
        .map(|(k, v)| (*k, v.as_str()))
        .collect();

    let tmp = tempfile::tempdir().unwrap();
    let (live, backup, restored) = (
        tmp.path().join("live"),
        tmp.path().join("backup"),
        tmp.path().join("restored"),
    );
    let (server, addr) = start_embedded(&live, &live_refs);
    let token = patient(&addr).await;
    let files = [
        crate::common::records::pdf("a", 3_000),
        crate::common::records::pdf("b", 70_000),
    ];
    let mut ids = Vec::new();
    for (i, bytes) in files.iter().enumerate() {
        ids.push(upload_at(&addr, &token, &format!("Scan {i}"), bytes.clone()).await);
    }
    let (code, said, err) = medchain_with(
        &live,
        &["backup", "--out", backup.to_str().unwrap()],
        &live_refs,
    )
    .await;
    assert_eq!(code, 0, "{said}{err}");
    drop(server);
    assert_eq!(
        std::fs::read_dir(backup.join("blobs/records"))
            .unwrap()
            .count(),
        2,
        "both blobs are in the backup"
    );
    assert!(
        std::fs::read_dir(backup.join("key-epochs"))
            .unwrap()
            .count()
            >= 1
    );

    keys_brought(&live, &restored);
    let (code, said, err) = medchain_with(
        &restored,
        &["restore", "--from", backup.to_str().unwrap()],
        &restored_refs,
    )
    .await;
    assert_eq!(code, 0, "{said}{err}");
    assert!(
        said.starts_with("restore good: ") && said.contains("2 blobs checked"),
        "{said}"
    );
    assert!(!moto.keys("restored", "epochs").await.is_empty());
    assert_eq!(moto.keys("restored", "blobs/records").await.len(), 2);

    let (_server, addr) = start_embedded(&restored, &restored_refs);
    let token = login_at(&addr, "pat@example.org", PASSWORD).await;
    for (id, bytes) in ids.iter().zip(&files) {
        assert_eq!(&download_at(&addr, &token, id).await, bytes);
    }
}

/// The patient erases record `id` ("no longer needed"): the answer.
async fn erase_record(addr: &str, token: &str, id: &str) -> serde_json::Value {
    crate::common::serve::gql(
        addr,
        Some(token),
        "mutation($r: UUID!) { eraseRecord(recordId: $r, reason: \"no longer needed\") { id } }",
        serde_json::json!({"r": id}),
    )
    .await
}

/// The patient uploads a 3 000-byte PDF marked `marker` under `title` at `addr`: its id.
async fn pdf_at(addr: &str, token: &str, title: &str, marker: &str) -> String {
    crate::common::serve::upload_at(
        addr,
        token,
        title,
        crate::common::records::pdf(marker, 3_000),
    )
    .await
}
