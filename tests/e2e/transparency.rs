//! The transparency log (DESIGN.md §9): the RFC 6962 tree kept by the `merkle` projector,
//! signed tree heads, inclusion and consistency proofs through GraphQL, HTTP and the CLI,
//! checked against an independent computation (`tools/verify-export.py --merkle`, from
//! the RFC's definitions over an export) and offline (`ledger check-proof`).

use crate::common;

use commands::{EventStore, ExpectedVersion, NewEvent, SystemClock};
use common::app::{Cred, STRONG, TestApp, eventually};
use domain::ledger::{
    Hash, SignedCheckpoint,
    merkle::{leaf_hash, verify_consistency, verify_inclusion},
};
use domain::{EventType, StreamName};
use serde_json::{Value, json};
use std::{path::Path, sync::Arc, time::Duration};
use uuid::Uuid;

/// Appends `count` events (a type no view reads: only the tree does) over a few streams,
/// ten at a time, and waits until the tree holds them all.
async fn append(app: &TestApp, count: usize) {
    let store = EventStore::start(app.pool.clone(), Arc::new(SystemClock));
    let streams: Vec<StreamName> = (0..4)
        .map(|_| StreamName::new("test", Uuid::new_v4()).unwrap())
        .collect();
    let mut versions = [0i32; 4];
    let mut written = 0;
    while written < count {
        let k = written / 10 % 4;
        let batch: Vec<NewEvent> = (written..(written + 10).min(count))
            .map(|n| {
                NewEvent::new(EventType::parse("Tested").unwrap(), None, &json!({"n": n})).unwrap()
            })
            .collect();
        let n = batch.len();
        let appended = store
            .append(&streams[k], ExpectedVersion::Exact(versions[k]), batch)
            .await
            .unwrap();
        versions[k] = appended.version;
        written += n;
    }
    tree_reaches(app).await;
}

/// Waits until the tree holds every event of the ledger.
async fn tree_reaches(app: &TestApp) {
    let head = commands::ledger::ledger_head(&app.pool).await.unwrap().seq;
    eventually(Duration::from_secs(30), "the tree reaches the head", || {
        let pool = app.pool.clone();
        async move {
            let size = projections::merkle::size(&pool).await.unwrap();
            (size == head).then_some(())
        }
    })
    .await;
}

/// The export, and the Python verifier's answers to `queries` over it.
async fn python_answers(app: &TestApp, dir: &Path, queries: &Value) -> Vec<Value> {
    let export = dir.join("export.jsonl");
    let mut file = std::fs::File::create(&export).unwrap();
    commands::ledger::export_jsonl(&app.pool, &mut file)
        .await
        .unwrap();
    let asked = dir.join("queries.json");
    std::fs::write(&asked, queries.to_string()).unwrap();
    let tool = Path::new(env!("CARGO_MANIFEST_DIR")).join("tools/verify-export.py");
    let out = std::process::Command::new("python3")
        .arg(tool)
        .arg(&export)
        .arg("--merkle")
        .arg(&asked)
        .output()
        .expect("python3 runs");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect()
}

/// `GET path` on the app, as JSON.
async fn get_json(app: &TestApp, path: &str) -> Value {
    app.http
        .get(app.url(path))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap()
}

fn hashes(list: &Value) -> Vec<Hash> {
    list.as_array()
        .unwrap()
        .iter()
        .map(|h| Hash::parse_hex(h.as_str().unwrap()).unwrap())
        .collect()
}

fn hash(value: &Value) -> Hash {
    Hash::parse_hex(value.as_str().unwrap()).unwrap()
}

const INCLUSION: &str = "query($s: Long!, $n: Long) { inclusionProof(seq: $s, treeSize: $n) \
    { seq leafHash treeSize path head { size root } } }";
const CONSISTENCY: &str = "query($a: Long!, $b: Long) { consistencyProof(fromSize: $a, toSize: $b) \
    { fromSize toSize path } }";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn proofs_match_an_independent_computation_over_an_export() {
    let app = TestApp::start().await;
    append(&app, 1000).await;
    // Sizes the RFC's edge cases live at, and some drawn at random.
    let mut sizes = vec![1i64, 2, 3, 7, 8, 9, 1000];
    sizes.extend((0..4).map(|_| 1 + (Uuid::new_v4().as_u128() % 1000) as i64));
    // What to ask at each size: inclusion of a few seqs, consistency from a few sizes,
    // and the root of every size either names.
    let draw = |m: i64| 1 + (Uuid::new_v4().as_u128() % m as u128) as i64;
    let mut asked: Vec<(&str, i64, i64)> = Vec::new();
    for &n in &sizes {
        for seq in [1, n, (n + 1) / 2, draw(n)] {
            asked.push(("inclusion", seq, n));
        }
        for from in [1, (n / 2).max(1), n, draw(n)] {
            asked.push(("consistency", from, n));
        }
    }
    // The next size too: a proof checked as if for it must fail.
    let mut rooted: Vec<i64> = asked
        .iter()
        .flat_map(|q| [q.1, q.2, (q.2 + 1).min(1000)])
        .collect();
    rooted.sort_unstable();
    rooted.dedup();
    let queries: Vec<Value> = rooted
        .iter()
        .map(|n| json!({"root": n}))
        .chain(asked.iter().map(|(kind, a, n)| match *kind {
            "inclusion" => json!({"inclusion": a, "size": n}),
            _ => json!({"consistency": a, "to": n}),
        }))
        .collect();
    let dir = tempfile::tempdir().unwrap();
    let answers = python_answers(&app, dir.path(), &json!(queries)).await;
    let (roots, paths) = answers.split_at(rooted.len());
    let root_of = |n: i64| hash(&roots[rooted.binary_search(&n).unwrap()]);
    for ((kind, a, n), expected) in asked.iter().copied().zip(paths) {
        if kind == "inclusion" {
            let proof = app
                .gql(Cred::None, INCLUSION, json!({"s": a, "n": n}))
                .await;
            let proof = &proof.ok()["inclusionProof"];
            assert_eq!(&proof["path"], expected, "seq {a} in {n}");
            assert_eq!(proof["treeSize"], n);
            let leaf = hash(&proof["leafHash"]);
            let path = hashes(&proof["path"]);
            let index = (a - 1) as u64;
            assert!(verify_inclusion(&leaf, index, n as u64, &path, &root_of(n)));
            // The wrong leaf, or the wrong size, does not verify.
            let other = leaf_hash(&Hash::from_bytes([7; 32]));
            assert!(!verify_inclusion(
                &other,
                index,
                n as u64,
                &path,
                &root_of(n)
            ));
            if n < 1000 {
                assert!(!verify_inclusion(
                    &leaf,
                    index,
                    n as u64 + 1,
                    &path,
                    &root_of(n + 1)
                ));
            }
        } else {
            let proof = app
                .gql(Cred::None, CONSISTENCY, json!({"a": a, "b": n}))
                .await;
            let proof = &proof.ok()["consistencyProof"];
            assert_eq!(&proof["path"], expected, "{a} → {n}");
            let path = hashes(&proof["path"]);
            assert!(verify_consistency(
                a as u64,
                n as u64,
                &root_of(a),
                &root_of(n),
                &path
            ));
            if a < n {
                let wrong = Hash::from_bytes([1; 32]);
                assert!(!verify_consistency(
                    a as u64,
                    n as u64,
                    &wrong,
                    &root_of(n),
                    &path
                ));
            }
        }
    }
    // Beyond the ledger, zero, or out of order: BAD_USER_INPUT.
    for (query, vars) in [
        (INCLUSION, json!({"s": 5, "n": 1001})),
        (INCLUSION, json!({"s": 0, "n": 10})),
        (INCLUSION, json!({"s": 11, "n": 10})),
        (CONSISTENCY, json!({"a": 0, "b": 10})),
        (CONSISTENCY, json!({"a": 11, "b": 10})),
    ] {
        app.gql(Cred::None, query, vars)
            .await
            .expect_code("BAD_USER_INPUT");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_signed_tree_head_carries_the_root_and_the_routes_serve_it() {
    let app = TestApp::start().await;
    let (_, admin) = app.create_admin("root@example.org", "Ada Admin").await;
    append(&app, 37).await;
    let none = app
        .gql(Cred::None, "{ treeHead { size } }", json!({}))
        .await;
    assert!(none.ok()["treeHead"].is_null());
    let missing = app
        .http
        .get(app.url("/api/log/checkpoint"))
        .send()
        .await
        .unwrap();
    assert_eq!(missing.status(), 404);

    let signed = app
        .gql(
            Cred::Bearer(&admin),
            "mutation { checkpointLedger { seq } }",
            json!({}),
        )
        .await;
    let size = signed.ok()["checkpointLedger"]["seq"].as_i64().unwrap();
    let head = app
        .gql(
            Cred::None,
            "{ treeHead { size root hash key sig at cosignatures { name } } }",
            json!({}),
        )
        .await;
    let head = head.ok()["treeHead"].clone();
    assert_eq!(head["size"], size);
    let dir = tempfile::tempdir().unwrap();
    let roots = python_answers(&app, dir.path(), &json!([{"root": size}])).await;
    assert_eq!(
        head["root"], roots[0],
        "the signed root is the RFC 6962 root"
    );
    assert_eq!(head["key"].as_str().unwrap(), app.ledger_key.public_hex());

    // GET /api/log/checkpoint: the head as DESIGN §9 writes it, and its signature holds.
    let file: Value = get_json(&app, "/api/log/checkpoint").await;
    let parsed = SignedCheckpoint::parse(&file.to_string()).expect("a valid signed head");
    parsed.require_key(&app.ledger_key.public()).unwrap();
    assert_eq!(
        parsed.checkpoint.root.unwrap().to_hex(),
        head["root"].as_str().unwrap()
    );
    assert_eq!(file["cosignatures"], json!([]));

    // The proof routes default to the newest head, like the GraphQL fields.
    let route: Value = get_json(&app, "/api/log/inclusion?seq=5").await;
    let field = app.gql(Cred::None, INCLUSION, json!({"s": 5})).await;
    let field = &field.ok()["inclusionProof"];
    assert_eq!(route["path"], field["path"]);
    assert_eq!(route["treeSize"], size);
    assert_eq!(field["head"]["root"], head["root"]);
    let consistency: Value = get_json(&app, "/api/log/consistency?from=3").await;
    assert_eq!(consistency["toSize"], size);
    for bad in [
        "/api/log/inclusion?seq=abc",
        "/api/log/inclusion",
        "/api/log/inclusion?seq=0",
        "/api/log/consistency?from=5&to=2",
    ] {
        let response = app.http.get(app.url(bad)).send().await.unwrap();
        assert_eq!(response.status(), 400, "{bad}");
        let body: Value = response.json().await.unwrap();
        assert_eq!(body["error"]["code"], "BAD_USER_INPUT", "{bad}: {body}");
    }
}

/// A patient's access log says which entries a signed head proves, with the proof.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_access_entry_carries_its_proof_once_a_head_covers_it() {
    let app = TestApp::start().await;
    let (_, admin) = app.create_admin("root@example.org", "Ada Admin").await;
    app.register("pat@example.org", "Pat Lee", "PATIENT", STRONG)
        .await;
    let token = app.login("pat@example.org", STRONG).await;
    let record =
        common::records::upload_ok(&app, &token, "Lab", common::records::pdf("T", 2048)).await;
    // Reading the content answers with a signed promise of the read's event.
    let read = app
        .http
        .get(app.url(&format!("/api/records/{record}/content")))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap();
    assert_eq!(read.status(), 200);
    let header = read.headers()["medchain-receipt"]
        .to_str()
        .unwrap()
        .to_owned();
    let (seq, promised) = domain::ledger::receipt::check_promise(&header, &app.ledger_key.public())
        .expect("a receipt signed with the ledger's key");
    let (kind, stored): (String, Vec<u8>) =
        sqlx::query_as("SELECT type, hash FROM events WHERE seq = $1")
            .bind(seq)
            .fetch_one(&app.pool)
            .await
            .unwrap();
    assert_eq!(kind, "RecordAccessed");
    assert_eq!(promised.as_bytes().as_slice(), stored.as_slice());
    let log = "query($id: UUID!) { record(id: $id) { accessLog { edges { node { seq action \
        proof { seq leafHash treeSize path head { size root } } } } } } }";
    let before = app
        .gql(Cred::Bearer(&token), log, json!({"id": record}))
        .await;
    let entry = &before.ok()["record"]["accessLog"]["edges"][0]["node"];
    assert!(entry["proof"].is_null(), "no head covers it yet: {entry}");
    tree_reaches(&app).await;
    app.gql(
        Cred::Bearer(&admin),
        "mutation { checkpointLedger { seq } }",
        json!({}),
    )
    .await
    .ok();
    let after = app
        .gql(Cred::Bearer(&token), log, json!({"id": record}))
        .await;
    let entry = &after.ok()["record"]["accessLog"]["edges"][0]["node"];
    let proof = &entry["proof"];
    assert_eq!(proof["seq"], entry["seq"]);
    let (seq, size) = (
        proof["seq"].as_i64().unwrap(),
        proof["treeSize"].as_i64().unwrap(),
    );
    assert_eq!(proof["head"]["size"], size);
    assert!(verify_inclusion(
        &hash(&proof["leafHash"]),
        (seq - 1) as u64,
        size as u64,
        &hashes(&proof["path"]),
        &hash(&proof["head"]["root"]),
    ));
}

/// `ledger prove` writes a receipt and `ledger consistency` a consistency file, and
/// `ledger check-proof` checks either offline against the ledger's key; an edited file,
/// or another key, fails.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_cli_proves_and_checks_offline() {
    use common::cli::medchain;
    let app = TestApp::start().await;
    append(&app, 20).await;
    let data = tempfile::tempdir().unwrap();
    let (code, first, err) = medchain(&app, data.path(), &["ledger", "checkpoint"]).await;
    assert_eq!(code, 0, "{err}");
    assert!(
        first.trim().ends_with("00000000000000000020.json"),
        "{first}"
    );
    append(&app, 13).await;
    let (code, _, err) = medchain(&app, data.path(), &["ledger", "checkpoint"]).await;
    assert_eq!(code, 0, "{err}");
    let (_, pubkey, _) = medchain(&app, data.path(), &["ledger", "pubkey"]).await;
    let pubkey = pubkey.trim().to_owned();

    let (code, receipt, err) =
        medchain(&app, data.path(), &["ledger", "prove", "--seq", "7"]).await;
    assert_eq!(code, 0, "{err}");
    let file = data.path().join("receipt.json");
    std::fs::write(&file, &receipt).unwrap();
    let check = |file: std::path::PathBuf, key: String| {
        let app = &app;
        let data = data.path().to_owned();
        async move {
            medchain(
                app,
                &data,
                &[
                    "ledger",
                    "check-proof",
                    file.to_str().unwrap(),
                    "--pubkey",
                    &key,
                ],
            )
            .await
        }
    };
    let (code, out, err) = check(file.clone(), pubkey.clone()).await;
    assert_eq!(code, 0, "{out} {err}");
    assert!(
        out.contains("OK: event 7 (Tested) is in the signed tree of 33 events"),
        "{out}"
    );

    // The independent Python checker accepts the same file (and Ed25519 by RFC 8032).
    let python = |file: &Path, key: &str| {
        let tool = Path::new(env!("CARGO_MANIFEST_DIR")).join("tools/verify-export.py");
        let out = std::process::Command::new("python3")
            .arg(tool)
            .arg("--check-proof")
            .arg(file)
            .args(["--pubkey", key])
            .output()
            .expect("python3 runs");
        (
            out.status.code().unwrap_or(-1),
            String::from_utf8_lossy(&out.stdout).into_owned(),
        )
    };
    let (code, out) = python(&file, &pubkey);
    assert_eq!(code, 0, "{out}");
    assert!(
        out.starts_with("OK: event 7 is in the signed tree of 33 events"),
        "{out}"
    );
    assert_eq!(python(&file, &"ab".repeat(32)).0, 1, "another key");

    let parsed: Value = serde_json::from_str(&receipt).unwrap();
    assert_eq!(parsed["kind"], "medchain-receipt/v1");
    let mut edited = parsed.clone();
    edited["event"]["payload"]["n"] = json!(999);
    let tampered = data.path().join("tampered.json");
    std::fs::write(&tampered, edited.to_string()).unwrap();
    let (code, out, _) = check(tampered.clone(), pubkey.clone()).await;
    assert_eq!(python(&tampered, &pubkey).0, 1, "the Python checker too");
    assert_eq!(code, 1, "{out}");
    assert!(out.starts_with("FAILED"), "{out}");
    let (code, _, _) = check(file.clone(), "ab".repeat(32)).await;
    assert_eq!(code, 1, "another key");

    let (code, consistency, err) = medchain(
        &app,
        data.path(),
        &["ledger", "consistency", "--from", "20"],
    )
    .await;
    assert_eq!(code, 0, "{err}");
    let file = data.path().join("consistency.json");
    std::fs::write(&file, &consistency).unwrap();
    let (code, out, err) = check(file.clone(), pubkey.clone()).await;
    assert_eq!(code, 0, "{out} {err}");
    let (code, said) = python(&file, &pubkey);
    assert_eq!(code, 0, "{said}");
    assert!(
        out.contains("tree of 20 events is a prefix of the signed tree of 33"),
        "{out}"
    );
}

/// A witness key file made as `medchain witness` would make it, and its public key.
pub(crate) fn witness_key(
    dir: &Path,
    name: &str,
) -> (std::path::PathBuf, ed25519_dalek::VerifyingKey) {
    let path = dir.join(format!("{name}.key"));
    let key = commands::keys::LedgerKey::load_or_create(&path).unwrap();
    (path, key.public())
}

/// Runs `medchain witness --once` against the app; returns the exit code and stderr.
pub(crate) async fn witness_once(log: &str, key: &Path, state: &Path, name: &str) -> (i32, String) {
    let out = tokio::process::Command::new(env!("CARGO_BIN_EXE_medchain"))
        .args(["witness", "--once", "--log", log, "--name", name])
        .arg("--key")
        .arg(key)
        .arg("--state")
        .arg(state)
        .env("RUST_LOG", "warn")
        .output()
        .await
        .unwrap();
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

const HEAD: &str = "{ treeHead { size root cosignatures { witness name at sig } } }";

/// Two witnesses cosign a growing log; the server keeps and shows both, checks each
/// against its configured keys, and refuses a cosignature from another key or over a head
/// it never signed.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_witnesses_cosign_a_growing_log_and_strangers_are_refused() {
    let dir = tempfile::tempdir().unwrap();
    let (alpha_key, alpha) = witness_key(dir.path(), "alpha");
    let (beta_key, beta) = witness_key(dir.path(), "beta");
    let mut app = TestApp::start().await;
    app.witnesses = domain::ledger::cosignature::WitnessKeys::new(vec![
        ("alpha".into(), alpha),
        ("beta".into(), beta),
    ]);
    app.restart().await;
    let (_, admin) = app.create_admin("root@example.org", "Ada Admin").await;
    let log = format!("http://{}", app.addr);
    let checkpoint = || async {
        app.gql(
            Cred::Bearer(&admin),
            "mutation { checkpointLedger { seq } }",
            json!({}),
        )
        .await
        .ok()["checkpointLedger"]["seq"]
            .as_i64()
            .unwrap()
    };
    for round in 0..2 {
        append(&app, 25).await;
        let size = checkpoint().await;
        for (name, key) in [("alpha", &alpha_key), ("beta", &beta_key)] {
            let state = dir.path().join(name);
            let (code, err) = witness_once(&log, key, &state, name).await;
            assert_eq!(code, 0, "{name}, round {round}: {err}");
            assert_eq!(
                std::fs::read_to_string(state.join("status")).unwrap(),
                "0\n"
            );
        }
        let head = app.gql(Cred::None, HEAD, json!({})).await;
        let head = head.ok()["treeHead"].clone();
        assert_eq!(head["size"], size);
        let mut names: Vec<&str> = head["cosignatures"]
            .as_array()
            .unwrap()
            .iter()
            .map(|c| c["name"].as_str().unwrap())
            .collect();
        names.sort_unstable();
        assert_eq!(names, ["alpha", "beta"], "round {round}: {head}");
        let file: Value = get_json(&app, "/api/log/checkpoint").await;
        assert_eq!(file["cosignatures"].as_array().unwrap().len(), 2);
    }

    // Administrators see each witness, when it last cosigned, and silence past the set
    // time (2 hours here).
    let watch = "{ witnesses { name lastCosignedSize silent } }";
    let seen = app.gql(Cred::Bearer(&admin), watch, json!({})).await;
    let seen = seen.ok()["witnesses"].clone();
    assert_eq!(seen[0]["name"], "alpha");
    assert_eq!(seen[0]["silent"], false, "{seen}");
    assert!(seen[1]["lastCosignedSize"].as_i64().is_some());
    app.gql(Cred::None, watch, json!({}))
        .await
        .expect_code("UNAUTHENTICATED");
    app.clock.advance(Duration::from_secs(3 * 3600));
    let admin = app.login("root@example.org", STRONG).await;
    let later = app.gql(Cred::Bearer(&admin), watch, json!({})).await;
    assert_eq!(later.ok()["witnesses"][0]["silent"], true);

    // A stranger's key, a head never signed, a forged signature: refused, nothing kept.
    let head = app.gql(Cred::None, HEAD, json!({})).await;
    let (size, root) = {
        let h = &head.ok()["treeHead"];
        (h["size"].as_i64().unwrap(), hash(&h["root"]))
    };
    let log_key = app.ledger_key.public();
    let now = domain::Timestamp::from_micros(1_800_000_000_000_000);
    let stranger = ed25519_dalek::SigningKey::from_bytes(&[42; 32]);
    let alpha_signing = commands::keys::LedgerKey::load(&alpha_key).unwrap();
    let post = |cosig: Value| {
        let app = &app;
        async move {
            let response = app
                .http
                .post(app.url("/api/log/cosignature"))
                .json(&cosig)
                .send()
                .await
                .unwrap();
            let status = response.status().as_u16();
            (status, response.json::<Value>().await.unwrap())
        }
    };
    use domain::ledger::cosignature::Cosignature;
    let unknown = Cosignature::sign(&stranger, "mallory", &log_key, size, root, now);
    let (status, body) = post(unknown.to_json()).await;
    assert_eq!(
        (status, body["error"]["code"].as_str()),
        (403, Some("FORBIDDEN"))
    );
    let unsigned = Cosignature::sign(
        alpha_signing.signing_key(),
        "alpha",
        &log_key,
        size,
        Hash::from_bytes([3; 32]),
        now,
    );
    let (status, body) = post(unsigned.to_json()).await;
    assert_eq!(
        (status, body["error"]["code"].as_str()),
        (400, Some("BAD_USER_INPUT"))
    );
    let mut forged = Cosignature::sign(
        alpha_signing.signing_key(),
        "alpha",
        &log_key,
        size,
        root,
        now,
    )
    .to_json();
    forged["at"] = json!("2030-01-01T00:00:00.000000Z");
    let (status, _) = post(forged).await;
    assert_eq!(status, 400);
    let head = app.gql(Cred::None, HEAD, json!({})).await;
    assert_eq!(
        head.ok()["treeHead"]["cosignatures"]
            .as_array()
            .unwrap()
            .len(),
        2
    );
}

/// A row of `events`, as a backup holds it.
type EventRow = (
    i64,
    Uuid,
    String,
    i32,
    String,
    Option<Uuid>,
    chrono::DateTime<chrono::Utc>,
    String,
    Vec<u8>,
    Vec<u8>,
);

/// The database restored from an earlier backup and given another tail, still signed with
/// the same key: the witness that cosigned the original history refuses the fork.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_witness_refuses_a_forked_history() {
    let dir = tempfile::tempdir().unwrap();
    let (key, public) = witness_key(dir.path(), "alpha");
    let witnesses = domain::ledger::cosignature::WitnessKeys::new(vec![("alpha".into(), public)]);
    let mut original = TestApp::start().await;
    original.witnesses = witnesses.clone();
    original.restart().await;
    append(&original, 30).await;
    let backup: Vec<EventRow> = sqlx::query_as(
        "SELECT seq, id, stream, version, type, actor, recorded_at, payload::text, prev_hash, hash \
             FROM events WHERE seq <= 20 ORDER BY seq",
    )
    .fetch_all(&original.pool)
    .await
    .unwrap();
    append(&original, 10).await;
    let (_, admin) = original.create_admin("root@example.org", "Ada Admin").await;
    original
        .gql(
            Cred::Bearer(&admin),
            "mutation { checkpointLedger { seq } }",
            json!({}),
        )
        .await
        .ok();
    let state = dir.path().join("state");
    let (code, err) =
        witness_once(&format!("http://{}", original.addr), &key, &state, "alpha").await;
    assert_eq!(code, 0, "{err}");

    // The fork: another database holding the backup's first 20 events, the same ledger
    // key, and a different tail.
    let mut fork = TestApp::start().await;
    fork.stop().await;
    for row in &backup {
        sqlx::query(
            "INSERT INTO events (seq, id, stream, version, type, actor, recorded_at, payload, prev_hash, hash) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8::json, $9, $10)",
        )
        .bind(row.0).bind(row.1).bind(&row.2).bind(row.3).bind(&row.4).bind(row.5)
        .bind(row.6).bind(&row.7).bind(&row.8).bind(&row.9)
        .execute(&fork.pool)
        .await
        .unwrap();
    }
    fork.ledger_key = original.ledger_key.clone();
    fork.witnesses = witnesses;
    fork.start_server().await;
    append(&fork, 40).await;
    let (_, fork_admin) = fork.create_admin("root@example.org", "Ada Admin").await;
    fork.gql(
        Cred::Bearer(&fork_admin),
        "mutation { checkpointLedger { seq } }",
        json!({}),
    )
    .await
    .ok();
    let (code, err) = witness_once(&format!("http://{}", fork.addr), &key, &state, "alpha").await;
    assert_eq!(code, 1, "the fork was cosigned: {err}");
    assert!(
        err.contains("FORK") && err.contains("not consistent"),
        "{err}"
    );
    let status = std::fs::read_to_string(state.join("status")).unwrap();
    assert!(status.starts_with('1'), "{status}");
    let head = fork.gql(Cred::None, HEAD, json!({})).await;
    assert_eq!(head.ok()["treeHead"]["cosignatures"], json!([]));
    // The original log is still cosigned happily.
    let (code, err) =
        witness_once(&format!("http://{}", original.addr), &key, &state, "alpha").await;
    assert_eq!(code, 0, "{err}");
}
