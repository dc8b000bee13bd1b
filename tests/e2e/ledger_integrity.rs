//! Tampering, crashes and checkpoints: the ledger tells a rewritten past from the real one.

use crate::common;

use common::tamper::{rewrite_chain_from, tamper};

use commands::{EventStore, ExpectedVersion, NewEvent, SystemClock, ledger::verify_ledger};
use domain::{EventType, StreamName};
use serde_json::json;
use sqlx::PgPool;
use std::{
    io::{BufRead, BufReader},
    process::{Command, Stdio},
    sync::Arc,
};
use uuid::Uuid;

/// A ledger of `n` events over three streams.
async fn ledger_of(n: i64) -> (common::TestDb, PgPool) {
    let db = common::test_db().await;
    let pool = commands::db::connect_and_migrate(&db.url, 4).await.unwrap();
    let store = EventStore::start(pool.clone(), Arc::new(SystemClock));
    let streams: Vec<StreamName> = (0..3)
        .map(|_| StreamName::new("test", Uuid::new_v4()).unwrap())
        .collect();
    for i in 0..n {
        let event =
            NewEvent::new(EventType::parse("Tested").unwrap(), None, &json!({"n": i})).unwrap();
        store
            .append(&streams[i as usize % 3], ExpectedVersion::Any, vec![event])
            .await
            .unwrap();
    }
    (db, pool)
}

async fn first_bad_seq(pool: &PgPool) -> Option<i64> {
    verify_ledger(pool, None)
        .await
        .unwrap()
        .outcome
        .err()
        .map(|b| b.seq)
}

#[tokio::test]
async fn a_changed_payload_byte_is_named() {
    let (_db, pool) = ledger_of(10).await;
    assert_eq!(first_bad_seq(&pool).await, None);
    tamper(
        &pool,
        &[r#"UPDATE events SET payload = '{"n":5 }'::json WHERE seq = 6"#],
    )
    .await;
    assert_eq!(
        first_bad_seq(&pool).await,
        None,
        "the same JSON value, only spaced differently, still verifies"
    );
    tamper(
        &pool,
        &[r#"UPDATE events SET payload = '{"n":7}'::json WHERE seq = 6"#],
    )
    .await;
    assert_eq!(first_bad_seq(&pool).await, Some(6));
}

#[tokio::test]
async fn a_deleted_row_is_named() {
    let (_db, pool) = ledger_of(10).await;
    tamper(&pool, &["DELETE FROM events WHERE seq = 4"]).await;
    assert_eq!(first_bad_seq(&pool).await, Some(4));
}

#[tokio::test]
async fn two_swapped_rows_are_named() {
    let (_db, pool) = ledger_of(10).await;
    tamper(
        &pool,
        &[
            "UPDATE events SET seq = 1000003 WHERE seq = 3",
            "UPDATE events SET seq = 3 WHERE seq = 4",
            "UPDATE events SET seq = 4 WHERE seq = 1000003",
        ],
    )
    .await;
    assert_eq!(first_bad_seq(&pool).await, Some(3));
}

#[tokio::test]
async fn the_trigger_refuses_update_delete_and_truncate() {
    let (_db, pool) = ledger_of(3).await;
    for statement in [
        "UPDATE events SET type = 'Forged' WHERE seq = 1",
        "DELETE FROM events WHERE seq = 3",
        "TRUNCATE events",
    ] {
        let err = sqlx::query(statement).execute(&pool).await.unwrap_err();
        assert!(
            err.to_string().contains("append-only"),
            "{statement}: {err}"
        );
    }
    let count: i64 = sqlx::query_scalar("SELECT count(*) FROM events")
        .fetch_one(&pool)
        .await
        .unwrap();
    assert_eq!(count, 3);
}

fn medchain(db_url: &str, data_dir: &std::path::Path, args: &[&str]) -> (i32, String, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_medchain"))
        .args(args)
        .env("DATABASE_URL", db_url)
        .env("MEDCHAIN_DATA_DIR", data_dir)
        .env_remove("MEDCHAIN_CHECKPOINT_DIR")
        .env_remove("MEDCHAIN_LEDGER_KEY_FILE")
        .output()
        .unwrap();
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).trim().to_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[tokio::test]
async fn a_checkpoint_catches_a_rehashed_chain_and_a_truncated_tail() {
    let (db, pool) = ledger_of(12).await;
    let dir = tempfile::tempdir().unwrap();

    let (code, path, err) = medchain(&db.url, dir.path(), &["ledger", "checkpoint"]);
    assert_eq!(code, 0, "{err}");
    let path = std::path::PathBuf::from(path);
    assert_eq!(
        path,
        dir.path()
            .join("checkpoints")
            .join("00000000000000000012.json")
    );
    let file: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
    let (_, pubkey, _) = medchain(&db.url, dir.path(), &["ledger", "pubkey"]);
    assert_eq!(file["key"], pubkey.as_str());
    assert_eq!(file["seq"], 12);

    let (code, out, err) = medchain(
        &db.url,
        dir.path(),
        &["ledger", "verify", "--checkpoint", path.to_str().unwrap()],
    );
    assert_eq!(
        (code, out.starts_with("OK: 12 events, head ")),
        (0, true),
        "{out} {err}"
    );

    // Re-hashed from seq 8: a naive chain check (a data directory without checkpoints)
    // passes; the checkpoint does not, named or found as the newest.
    rewrite_chain_from(&pool, 8).await;
    let naive = tempfile::tempdir().unwrap();
    let (code, out, _) = medchain(&db.url, naive.path(), &["ledger", "verify"]);
    assert_eq!((code, out.starts_with("OK: 12 events")), (0, true), "{out}");
    let (code, out, _) = medchain(&db.url, dir.path(), &["ledger", "verify"]);
    assert_eq!(code, 1, "{out}");
    assert!(out.starts_with("FAILED at seq 12:"), "{out}");
    let (code, out, _) = medchain(
        &db.url,
        dir.path(),
        &["ledger", "verify", "--checkpoint", path.to_str().unwrap()],
    );
    assert_eq!(code, 1, "{out}");
    assert!(out.starts_with("FAILED at seq 12:"), "{out}");

    // A truncated tail also fails against the checkpoint.
    let (db2, pool2) = ledger_of(12).await;
    let dir2 = tempfile::tempdir().unwrap();
    let (_, path2, _) = medchain(&db2.url, dir2.path(), &["ledger", "checkpoint"]);
    tamper(&pool2, &["DELETE FROM events WHERE seq > 9"]).await;
    let (code, out, _) = medchain(&db2.url, naive.path(), &["ledger", "verify"]);
    assert_eq!((code, out.starts_with("OK: 9 events")), (0, true), "{out}");
    let (code, out, _) = medchain(&db2.url, dir2.path(), &["ledger", "verify"]);
    assert_eq!(code, 1, "{out}");
    assert!(out.starts_with("FAILED at seq 10:"), "{out}");
    let (code, out, _) = medchain(
        &db2.url,
        dir2.path(),
        &["ledger", "verify", "--checkpoint", &path2],
    );
    assert_eq!(code, 1, "{out}");
    assert!(out.starts_with("FAILED at seq 10:"), "{out}");

    // A checkpoint signed by another key is refused.
    let (code, _, err) = medchain(
        &db2.url,
        dir.path(),
        &["ledger", "verify", "--checkpoint", &path2],
    );
    assert_eq!(code, 1);
    assert!(err.contains("not by this ledger's key"), "{err}");
}

#[tokio::test]
async fn verify_names_a_bad_seq_from_the_command_line() {
    let (db, pool) = ledger_of(6).await;
    let dir = tempfile::tempdir().unwrap();
    tamper(
        &pool,
        &[r#"UPDATE events SET payload = '{"n":100}'::json WHERE seq = 2"#],
    )
    .await;
    let (code, out, _) = medchain(&db.url, dir.path(), &["ledger", "verify"]);
    assert_eq!(code, 1);
    assert!(out.starts_with("FAILED at seq 2: "), "{out}");
    assert!(out.contains("changed"), "{out}");

    let export = dir.path().join("out.jsonl");
    let (code, _, err) = medchain(
        &db.url,
        dir.path(),
        &["ledger", "export", "--out", export.to_str().unwrap()],
    );
    assert_eq!(code, 0, "{err}");
    assert!(common::python_verify_export(&export, None).starts_with("FAILED at seq 2"));
}

#[tokio::test]
async fn every_acknowledged_append_survives_a_sigkill() {
    let (db, pool) = ledger_of(0).await;
    let mut child = Command::new(env!("CARGO_BIN_EXE_medchain"))
        .args(["dev", "append-loop"])
        .env("DATABASE_URL", &db.url)
        .env("RUST_LOG", "warn")
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .unwrap();
    let mut acked = Vec::new();
    for line in BufReader::new(child.stdout.take().unwrap()).lines() {
        let line = line.unwrap();
        let (seq, id) = line.split_once(' ').unwrap();
        acked.push((seq.parse::<i64>().unwrap(), Uuid::parse_str(id).unwrap()));
        if acked.len() == 400 {
            child.kill().unwrap(); // SIGKILL, mid-stream
            break;
        }
    }
    child.wait().unwrap();

    for (seq, id) in &acked {
        let stored: Option<Uuid> = sqlx::query_scalar("SELECT id FROM events WHERE seq = $1")
            .bind(seq)
            .fetch_optional(&pool)
            .await
            .unwrap();
        assert_eq!(stored, Some(*id), "acknowledged seq {seq} is missing");
    }
    let verification = verify_ledger(&pool, None).await.unwrap();
    assert!(verification.checked >= 400);
    assert!(verification.outcome.is_ok());

    // After the crash a new appender goes on from the head.
    let store = EventStore::start(pool.clone(), Arc::new(SystemClock));
    let stream = StreamName::new("test", Uuid::new_v4()).unwrap();
    let event = NewEvent::new(EventType::parse("Tested").unwrap(), None, &json!({})).unwrap();
    let appended = store
        .append(&stream, ExpectedVersion::Exact(0), vec![event])
        .await
        .unwrap();
    assert_eq!(appended.first_seq, verification.checked + 1);
    assert!(verify_ledger(&pool, None).await.unwrap().outcome.is_ok());
}
