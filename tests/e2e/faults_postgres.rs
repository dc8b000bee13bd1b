//! PostgreSQL crashing under load (issue 27, "Faults"): two `medchain serve` processes on
//! a cluster of the test's own take 30 s of uploads and queries while the cluster is
//! restarted with `pg_ctl restart -m immediate`. Requests in flight then fail with a
//! clear error or succeed; afterwards both processes serve again without a restart
//! (the pools reconnect, the projectors and a live subscription resume), every
//! acknowledged upload is on the ledger exactly once and in the read model, and the
//! chain verifies.

use crate::common;

use common::serve::{BIN, gql, login_at, master_key_file, start_serve};
use medchain::embedded::{PgBinaries, PrivateCluster};
use serde_json::{Value, json};
use std::collections::HashSet;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

const PASSWORD: &str = "Tq9#vLm2!pXz7wRb";
const LOAD: Duration = Duration::from_secs(30);
const CRASH_AFTER: Duration = Duration::from_secs(8);
const WORKERS: usize = 4;

/// What the load saw.
#[derive(Default)]
struct Tally {
    /// Uploads answered 201: (worker, record id).
    acknowledged: Vec<(usize, String)>,
    /// Requests that succeeded after the restart had finished, per process.
    after_restart: [usize; 2],
    /// Refusals: (status or "graphql", code, message).
    failures: Vec<(String, String, String)>,
}

async fn register(addr: &str, email: &str) {
    let answer = gql(
        addr,
        None,
        "mutation($i: RegisterInput!) { register(input: $i) { id } }",
        json!({"i": {"email": email, "password": PASSWORD, "name": "Crash Tester", "role": "PATIENT"}}),
    )
    .await;
    assert!(answer["errors"].is_null(), "{answer}");
}

/// One upload: `Ok(id)` when acknowledged, `Err((status, code))` when refused, with the
/// error body a client is promised. A hang or a malformed answer fails the test.
async fn upload(
    client: &reqwest::Client,
    addr: &str,
    token: &str,
    n: usize,
) -> Result<String, (String, String, String)> {
    let (status, body) = common::serve::post_record(
        client,
        addr,
        token,
        &format!("Scan {n}"),
        "scan.pdf",
        common::records::pdf(&n.to_string(), 4_000),
    )
    .await;
    if status == 201 {
        return Ok(body["id"].as_str().expect("the new record's id").to_owned());
    }
    let code = body["error"]["code"]
        .as_str()
        .unwrap_or_else(|| panic!("a refusal names its code: {status} {body}"));
    let message = body["error"]["message"].as_str().unwrap_or_default();
    Err((status.to_string(), code.to_owned(), message.to_owned()))
}

/// `me`: `Ok` or the error's code.
async fn me(
    client: &reqwest::Client,
    addr: &str,
    token: &str,
) -> Result<(), (String, String, String)> {
    let answer: Value = client
        .post(format!("http://{addr}/graphql"))
        .bearer_auth(token)
        .json(&json!({"query": "{ me { id } }"}))
        .send()
        .await
        .unwrap_or_else(|e| panic!("`me` got no answer: {e}"))
        .json()
        .await
        .expect("a JSON answer");
    if answer["data"]["me"]["id"].is_string() {
        return Ok(());
    }
    let code = answer["errors"][0]["extensions"]["code"]
        .as_str()
        .unwrap_or_else(|| panic!("an error names its code: {answer}"));
    let message = answer["errors"][0]["message"].as_str().unwrap_or_default();
    Err(("graphql".into(), code.to_owned(), message.to_owned()))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_restarting_under_load_loses_nothing_acknowledged() {
    let tmp = tempfile::tempdir().unwrap();
    let pg_dir = tmp.path().join("pg");
    let cluster = tokio::task::spawn_blocking(move || {
        PrivateCluster::create(&PgBinaries::find().unwrap(), &pg_dir).unwrap()
    })
    .await
    .unwrap();
    let cluster = Arc::new(cluster);
    let url = cluster.url();
    let key = master_key_file(tmp.path());
    // One blob store for both, as behind a load balancer.
    let blobs = format!("file://{}", tmp.path().join("blobs").display());
    let env = [("MEDCHAIN_BLOB_STORE", blobs.as_str())];
    let (_a, a) = start_serve(&url, &key, &tmp.path().join("a"), &env);
    let (_b, b) = start_serve(&url, &key, &tmp.path().join("b"), &env);
    let addrs = [a.clone(), b.clone()];

    let mut tokens = Vec::new();
    for w in 0..WORKERS {
        let email = format!("crash{w}@example.org");
        register(&a, &email).await;
        tokens.push(login_at(&b, &email, PASSWORD).await);
    }
    // A subscriber on B, open across the crash.
    let mut socket =
        common::ws::notifications(b.parse::<SocketAddr>().unwrap(), &tokens[0], None).await;

    let tally = Arc::new(Mutex::new(Tally::default()));
    let restarted_at: Arc<Mutex<Option<Instant>>> = Arc::default();
    let started = Instant::now();
    let mut workers = Vec::new();
    for (w, token) in tokens.iter().cloned().enumerate() {
        let (tally, restarted_at, addrs) = (tally.clone(), restarted_at.clone(), addrs.clone());
        workers.push(tokio::spawn(async move {
            let client = reqwest::Client::builder()
                .timeout(Duration::from_secs(60))
                .build()
                .unwrap();
            let mut n = 0;
            while started.elapsed() < LOAD {
                n += 1;
                let which = (w + n) % 2;
                let addr = &addrs[which];
                let uploaded = upload(&client, addr, &token, w * 100_000 + n).await;
                let asked = me(&client, addr, &token).await;
                let after = restarted_at.lock().unwrap().is_some();
                let mut tally = tally.lock().unwrap();
                match uploaded {
                    Ok(id) => {
                        tally.acknowledged.push((w, id));
                        if after {
                            tally.after_restart[which] += 1;
                        }
                    }
                    Err(refused) => tally.failures.push(refused),
                }
                if let Err(refused) = asked {
                    tally.failures.push(refused);
                }
            }
        }));
    }

    tokio::time::sleep(CRASH_AFTER).await;
    let crashing = cluster.clone();
    let crash_took = Instant::now();
    tokio::task::spawn_blocking(move || crashing.restart_immediate().unwrap())
        .await
        .unwrap();
    eprintln!(
        "pg_ctl restart -m immediate took {:?}",
        crash_took.elapsed()
    );
    *restarted_at.lock().unwrap() = Some(Instant::now());
    for worker in workers {
        worker.await.unwrap();
    }

    let tally = std::mem::take(&mut *tally.lock().unwrap());
    eprintln!(
        "acknowledged {} uploads; {} refusals: {:?}; after the restart A {} B {}",
        tally.acknowledged.len(),
        tally.failures.len(),
        tally
            .failures
            .iter()
            .map(|(status, code, _)| (status, code))
            .collect::<HashSet<_>>(),
        tally.after_restart[0],
        tally.after_restart[1],
    );
    // The refusals are the server's honest "try again" (503 on the file routes), never
    // a client's fault, and name nothing inside.
    assert!(!tally.failures.is_empty(), "the crash was felt");
    for (status, code, message) in &tally.failures {
        assert!(
            (status == "503" || status == "graphql")
                && code == "INTERNAL"
                && message.contains("try again"),
            "a request during the crash was refused as {status} {code} {message:?}"
        );
    }
    assert!(
        tally.after_restart.iter().all(|&n| n > 0),
        "both processes served uploads after the restart: {:?}",
        tally.after_restart
    );

    // Every acknowledged upload: on the ledger once, in the read model, readable.
    let pool = sqlx::PgPool::connect(&url).await.unwrap();
    let uploaded: Vec<(String, i64)> = sqlx::query_as(
        "SELECT stream, count(*) FROM events WHERE type = 'RecordUploaded' GROUP BY stream",
    )
    .fetch_all(&pool)
    .await
    .unwrap();
    assert!(uploaded.iter().all(|(_, n)| *n == 1), "an upload doubled");
    let streams: HashSet<&str> = uploaded.iter().map(|(s, _)| s.as_str()).collect();
    for (_, id) in &tally.acknowledged {
        assert!(
            streams.contains(format!("record-{id}").as_str()),
            "acknowledged upload {id} is missing from the ledger"
        );
    }
    let listed: i64 = sqlx::query_scalar("SELECT count(*) FROM records")
        .fetch_one(&pool)
        .await
        .unwrap();
    assert!(
        listed >= tally.acknowledged.len() as i64,
        "{listed} records listed"
    );
    let (owner, last) = tally.acknowledged.last().unwrap();
    common::serve::download_at(&a, &tokens[*owner], last).await;
    pool.close().await;

    // The subscription opened before the crash still delivers.
    let created = gql(
        &a,
        Some(&tokens[0]),
        "mutation($n: String!, $e: DateTime!) { createReadToken(name: $n, expiresAt: $e) { secret } }",
        json!({"n": "after the crash", "e": (chrono::Utc::now() + chrono::Duration::days(30)).to_rfc3339()}),
    )
    .await;
    assert!(created["errors"].is_null(), "{created}");
    let mut seen = Vec::new();
    while let Some(message) = common::ws::next(&mut socket, 20).await {
        assert_eq!(message["type"], "next", "{message}");
        let kind = message["payload"]["data"]["notifications"]["kind"].clone();
        seen.push(kind.clone());
        if kind == "SECURITY_CHANGED" {
            break;
        }
    }
    assert_eq!(
        seen.last(),
        Some(&json!("SECURITY_CHANGED")),
        "the read token's notice reached the subscriber: {seen:?}"
    );

    // Healthy, and the chain verifies.
    for addr in [&a, &b] {
        let health = reqwest::get(format!("http://{addr}/health")).await.unwrap();
        assert_eq!(health.status(), 200, "{addr} is healthy after the crash");
    }
    let verified = tokio::process::Command::new(BIN)
        .args(["ledger", "verify", "--data-dir"])
        .arg(tmp.path().join("a"))
        .env("DATABASE_URL", &url)
        .env("MEDCHAIN_MASTER_KEY_FILE", &key)
        .env("RUST_LOG", "warn")
        .output()
        .await
        .unwrap();
    let said = String::from_utf8_lossy(&verified.stdout);
    assert!(
        verified.status.success(),
        "{said}{}",
        String::from_utf8_lossy(&verified.stderr)
    );
    eprintln!("{said}");
}
