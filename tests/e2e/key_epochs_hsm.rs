//! The master key in a hardware security module (DESIGN.md §11), with Debian's SoftHSM2:
//! a deployment made with a key file moves its master key into the module
//! (`medchain keys move-to-hsm`), and then, with the file gone, everyone still signs in,
//! every record still downloads, a rotation seals its new epoch key in the module, and the
//! module says the key is sensitive and never extractable. And with DATABASE_URL, a key
//! file inside the database's own data directory is refused at start.

use crate::common::{
    self,
    serve::{
        BIN, admin_create, download_at, epoch_store_beside, gql, login_at, master_key_file,
        start_serve, upload_at,
    },
};
use serde_json::{Value, json};
use std::path::Path;

const MODULE: &str = "/usr/lib/softhsm/libsofthsm2.so";
const PASSWORD: &str = "Tq9#vLm2!pXz7wRb";

/// A SoftHSM2 token of its own for the test: its configuration file.
fn softhsm_token(dir: &Path) -> std::path::PathBuf {
    assert!(
        Path::new(MODULE).exists(),
        "SoftHSM2 is not installed (Debian: apt-get install softhsm2; .ci/run does)"
    );
    let tokens = dir.join("tokens");
    std::fs::create_dir_all(&tokens).unwrap();
    let conf = dir.join("softhsm2.conf");
    std::fs::write(
        &conf,
        format!(
            "directories.tokendir = {}\nobjectstore.backend = file\nlog.level = ERROR\n",
            tokens.display()
        ),
    )
    .unwrap();
    let made = std::process::Command::new("softhsm2-util")
        .args([
            "--init-token",
            "--free",
            "--label",
            "medchain",
            "--pin",
            "246810",
            "--so-pin",
            "13579",
        ])
        .env("SOFTHSM2_CONF", &conf)
        .output()
        .unwrap();
    assert!(
        made.status.success(),
        "{}",
        String::from_utf8_lossy(&made.stderr)
    );
    conf
}

async fn login(addr: &str, email: &str) -> String {
    login_at(addr, email, PASSWORD).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_deployment_moves_its_master_key_into_softhsm_and_keeps_working() {
    let tmp = tempfile::tempdir().unwrap();
    let conf = softhsm_token(tmp.path());
    let conf = conf.to_str().unwrap();
    let db = common::test_db().await;
    let key = master_key_file(tmp.path());
    let data = tmp.path().join("data");
    let uri = format!(
        "pkcs11:token=medchain;object=medchain-master?module-path={MODULE}&pin-value=246810"
    );

    // A deployment on a key file: an administrator, a patient and a record.
    let (server, addr) = start_serve(&db.url, &key, &data, &[]);
    admin_create(&db.url, &key, &data, "root@example.org", PASSWORD).await;
    let registered = gql(
        &addr,
        None,
        "mutation($e: String!, $p: String!) { register(input: {email: $e, password: $p, name: \"Pat Lee\", role: PATIENT}) { id } }",
        json!({"e": "pat@example.org", "p": PASSWORD}),
    )
    .await;
    assert!(registered["errors"].is_null(), "{registered}");
    let patient = login(&addr, "pat@example.org").await;
    let bytes = common::records::pdf("before the move", 6000);
    let record = upload_at(&addr, &patient, "Scan", bytes.clone()).await;
    drop(server);

    // Moved into the module; the key file then goes.
    let moved = tokio::process::Command::new(BIN)
        .args(["keys", "move-to-hsm", "--to", &uri, "--data-dir"])
        .arg(&data)
        .env("DATABASE_URL", &db.url)
        .env("MEDCHAIN_MASTER_KEY_FILE", &key)
        .env("MEDCHAIN_KEY_EPOCH_STORE", epoch_store_beside(&key))
        .env("SOFTHSM2_CONF", conf)
        .env("RUST_LOG", "warn")
        .output()
        .await
        .unwrap();
    let said = String::from_utf8_lossy(&moved.stdout);
    assert!(
        moved.status.success(),
        "{said}{}",
        String::from_utf8_lossy(&moved.stderr)
    );
    assert!(said.contains("\"epochKeysMoved\":1"), "{said}");
    std::fs::remove_file(&key).unwrap();

    let hsm_env = [
        ("MEDCHAIN_MASTER_KEY", uri.as_str()),
        ("SOFTHSM2_CONF", conf),
    ];
    let (_server, addr) = start_serve(&db.url, &key, &data, &hsm_env);
    let admin = login(&addr, "root@example.org").await;
    let patient = login(&addr, "pat@example.org").await;
    assert_eq!(
        download_at(&addr, &patient, &record).await,
        bytes,
        "the record opens"
    );

    let rotated = gql(
        &addr,
        Some(&admin),
        "mutation { rotateKeyEpoch { number } }",
        json!({}),
    )
    .await;
    assert_eq!(rotated["data"]["rotateKeyEpoch"]["number"], 2, "{rotated}");
    assert_eq!(
        download_at(&addr, &patient, &record).await,
        bytes,
        "and after a rotation"
    );
    let later = common::records::pdf("after the move", 3000);
    let second = upload_at(&addr, &patient, "Scan", later.clone()).await;
    assert_eq!(download_at(&addr, &patient, &second).await, later);

    // Erasure completes the same way: the record made under epoch 2, rotated once more.
    let erased = gql(
        &addr,
        Some(&patient),
        "mutation($id: UUID!) { eraseRecord(recordId: $id, reason: \"a duplicate\") { status } }",
        json!({"id": second}),
    )
    .await;
    assert_eq!(
        erased["data"]["eraseRecord"]["status"], "ERASED",
        "{erased}"
    );
    let rotated = gql(
        &addr,
        Some(&admin),
        "mutation { rotateKeyEpoch { number } }",
        json!({}),
    )
    .await;
    assert_eq!(rotated["data"]["rotateKeyEpoch"]["number"], 3, "{rotated}");
    let certificate = gql(
        &addr,
        Some(&patient),
        "query($s: String!) { erasureCertificate(subject: $s) { complete epochs } }",
        json!({"s": format!("record-{second}")}),
    )
    .await;
    assert_eq!(
        certificate["data"]["erasureCertificate"],
        json!({"complete": true, "epochs": [2]}),
        "{certificate}"
    );
    assert_eq!(download_at(&addr, &patient, &record).await, bytes);

    let status = tokio::process::Command::new(BIN)
        .args(["keys", "status", "--data-dir"])
        .arg(&data)
        .env("DATABASE_URL", &db.url)
        .env("MEDCHAIN_KEY_EPOCH_STORE", epoch_store_beside(&key))
        .envs(hsm_env)
        .env("RUST_LOG", "warn")
        .output()
        .await
        .unwrap();
    assert!(
        status.status.success(),
        "{}",
        String::from_utf8_lossy(&status.stderr)
    );
    let status: Value = serde_json::from_slice(&status.stdout).unwrap();
    assert_eq!(
        status["masterKey"],
        json!({"kind": "pkcs11", "token": "medchain", "object": "medchain-master", "sensitive": true, "extractable": false})
    );
    let epochs: Vec<_> = status["epochs"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| (e["number"].clone(), e["retiredAt"].is_string()))
        .collect();
    assert_eq!(
        epochs,
        [(json!(1), true), (json!(2), true), (json!(3), false)]
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_master_key_file_inside_the_databases_data_directory_is_refused() {
    let db = common::test_db().await;
    let pool = commands::db::connect(&db.url, 1).await.unwrap();
    let data_dir: String = sqlx::query_scalar("SHOW data_directory")
        .fetch_one(&pool)
        .await
        .unwrap();
    let inside = Path::new(&data_dir).join(format!("medchain-{}.key", uuid::Uuid::new_v4()));
    std::fs::write(&inside, "cd".repeat(32)).unwrap();
    let tmp = tempfile::tempdir().unwrap();
    let out = tokio::process::Command::new(BIN)
        .args(["serve", "--listen", "127.0.0.1:0", "--data-dir"])
        .arg(tmp.path())
        .env("DATABASE_URL", &db.url)
        .env("MEDCHAIN_MASTER_KEY_FILE", &inside)
        .env("RUST_LOG", "warn")
        .output()
        .await
        .unwrap();
    std::fs::remove_file(&inside).unwrap();
    let said = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success());
    assert!(
        said.contains("inside the database's own data directory"),
        "{said}"
    );
}
