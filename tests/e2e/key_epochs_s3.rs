//! Epoch keys on an S3 prefix (`MEDCHAIN_KEY_EPOCH_STORE=s3://bucket/prefix`), against a
//! real S3-compatible server (`moto_server`): the real `serve` and `medchain keys`
//! binaries keep the keys there and nowhere local, a rotation replaces the object and
//! completes an erasure, a bucket that keeps versions is refused at start, and one whose
//! versioning is turned on later makes the rotation stop before it destroys a key (so no
//! erasure is called complete on a deletion that is not real).

use crate::common;

use common::{
    app::STRONG,
    moto::Moto,
    serve::{download_at, gql, login_at, master_key_file, serve_command, start_serve, upload_at},
};
use serde_json::{Value, json};
use std::path::Path;

const CERTIFICATE: &str = "query($s: String!) { erasureCertificate(subject: $s) { complete } }";

fn pdf(seed: &str) -> Vec<u8> {
    let mut bytes = b"%PDF-1.7\n".to_vec();
    bytes.extend(seed.bytes().cycle().take(3000));
    bytes
}

/// `medchain ARGS` on the test's database and key, with `env`; exit code and stderr.
async fn medchain(
    db_url: &str,
    key: &Path,
    dir: &Path,
    env: &[(&str, String)],
    args: &[&str],
) -> (i32, String) {
    let out = tokio::process::Command::new(common::serve::BIN)
        .args(args)
        .arg("--data-dir")
        .arg(dir)
        .env("DATABASE_URL", db_url)
        .env("MEDCHAIN_MASTER_KEY_FILE", key)
        .env("MEDCHAIN_ADMIN_PASSWORD", STRONG)
        .env("RUST_LOG", "warn")
        .envs(env.iter().map(|(k, v)| (*k, v.as_str())))
        .stdin(std::process::Stdio::null())
        .output()
        .await
        .unwrap();
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

async fn gql_ok(addr: &str, token: &str, query: &str, variables: Value) -> Value {
    let answer = gql(addr, Some(token), query, variables).await;
    assert!(answer["errors"].is_null(), "{query}: {answer}");
    answer["data"].clone()
}

async fn patient(addr: &str, email: &str, name: &str) -> (String, String) {
    let answer = gql(
        addr,
        None,
        "mutation($i: RegisterInput!) { register(input: $i) { id } }",
        json!({"i": {"email": email, "password": STRONG, "name": name, "role": "PATIENT"}}),
    )
    .await;
    let id = answer["data"]["register"]["id"]
        .as_str()
        .unwrap_or_else(|| panic!("{answer}"))
        .to_owned();
    (id, login_at(addr, email, STRONG).await)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn epoch_keys_live_on_an_unversioned_s3_prefix_and_a_versioned_bucket_is_refused() {
    let moto = Moto::start().await;
    moto.create_bucket("keys").await;
    moto.create_bucket("versioned").await;
    moto.enable_versioning("versioned").await;
    let db = common::test_db().await;
    let tmp = tempfile::tempdir().unwrap();
    let key = master_key_file(tmp.path());
    let data = tmp.path().join("data");
    let with_store = |location: &str| {
        let mut env = moto.env();
        env.push(("MEDCHAIN_KEY_EPOCH_STORE", location.to_owned()));
        env
    };

    // A bucket that keeps versions would keep every destroyed key: refused at start,
    // saying why, with no epoch key written there.
    let versioned = with_store("s3://versioned/epochs");
    let pairs: Vec<(&str, &str)> = versioned.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let refused = serve_command(&db.url, &key, &data, &pairs)
        .output()
        .unwrap();
    let said = String::from_utf8_lossy(&refused.stderr);
    assert!(!refused.status.success(), "{said}");
    assert!(
        said.contains("s3://versioned/epochs") && said.contains("versioning enabled"),
        "{said}"
    );
    let kept = moto.keys("versioned", "epochs").await;
    assert!(!kept.iter().any(|k| k.contains("epoch-")), "{kept:?}");

    // On an unversioned prefix: the server and the command line keep the keys there.
    let env = with_store("s3://keys/epochs/");
    let pairs: Vec<(&str, &str)> = env.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let (_server, addr) = start_serve(&db.url, &key, &data, &pairs);
    let (code, said) = medchain(
        &db.url,
        &key,
        &tmp.path().join("cli"),
        &env,
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
    assert_eq!(code, 0, "{said}");
    let admin = login_at(&addr, "root@example.org", STRONG).await;
    let (pat_id, pat) = patient(&addr, "pat@example.org", "Pat Lee").await;
    let (_, bo) = patient(&addr, "bo@example.org", "Bo Reyes").await;
    upload_at(&addr, &pat, "Pat's scan", pdf("pat")).await;
    let bos = upload_at(&addr, &bo, "Bo's scan", pdf("bo")).await;
    assert_eq!(download_at(&addr, &bo, &bos).await, pdf("bo"));
    assert_eq!(
        moto.keys("keys", "epochs").await,
        ["epochs/epoch-00000001.key"],
        "one key, and the versioning probe gone"
    );
    for local in [
        data.join("key-epochs"),
        common::serve::epoch_store_beside(&key),
    ] {
        assert!(!local.exists(), "{}", local.display());
    }

    // An erasure, then a rotation by the command line: the old key's object is gone and
    // the erasure complete; the living still read their records.
    gql_ok(
        &addr,
        &admin,
        "mutation($id: UUID!) { eraseUser(userId: $id, reason: \"asked\") { status } }",
        json!({"id": pat_id}),
    )
    .await;
    let subject = json!({"s": format!("user-{pat_id}")});
    let before = gql_ok(&addr, &admin, CERTIFICATE, subject.clone()).await;
    assert_eq!(before["erasureCertificate"]["complete"], false);
    let (code, said) = medchain(
        &db.url,
        &key,
        &tmp.path().join("cli"),
        &env,
        &["keys", "rotate"],
    )
    .await;
    assert_eq!(code, 0, "{said}");
    assert_eq!(
        moto.keys("keys", "epochs").await,
        ["epochs/epoch-00000002.key"]
    );
    let after = gql_ok(&addr, &admin, CERTIFICATE, subject).await;
    assert_eq!(after["erasureCertificate"]["complete"], true, "{after}");
    assert_eq!(download_at(&addr, &bo, &bos).await, pdf("bo"));

    // Versioning turned on under a running server: the next rotation moves every key to
    // a new epoch but stops before destroying the old one, which stays unretired; reads
    // go on.
    moto.enable_versioning("keys").await;
    let stopped = gql(
        &addr,
        Some(&admin),
        "mutation { rotateKeyEpoch { number } }",
        json!({}),
    )
    .await;
    assert_eq!(
        stopped["errors"][0]["extensions"]["code"], "INTERNAL",
        "{stopped}"
    );
    assert!(
        !stopped.to_string().contains("versioning"),
        "internals stay in the log: {stopped}"
    );
    let epochs = gql_ok(
        &addr,
        &admin,
        "{ keyEpochs { number retiredAt } }",
        json!({}),
    )
    .await;
    let epoch_2 = epochs["keyEpochs"]
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["number"] == 2)
        .cloned();
    assert!(
        epoch_2.is_some_and(|e| e["retiredAt"].is_null()),
        "{epochs}"
    );
    let kept = moto.keys("keys", "epochs").await;
    assert!(
        kept.contains(&"epochs/epoch-00000002.key".to_owned()),
        "{kept:?}"
    );
    assert_eq!(download_at(&addr, &bo, &bos).await, pdf("bo"));
}
