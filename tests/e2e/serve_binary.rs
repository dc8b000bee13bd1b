//! `medchain serve` as a real process on the embedded default: start, health, signals,
//! restart on the same data directory, a second serve refused, commands borrowing the
//! running cluster.

use crate::common::serve::Server;
use commands::{EventStore, ExpectedVersion, NewEvent, SystemClock};
use domain::{EventType, StreamName};
use std::{
    path::Path,
    process::Command,
    sync::Arc,
    time::{Duration, Instant},
};
use uuid::Uuid;

const BIN: &str = env!("CARGO_BIN_EXE_medchain");

/// Starts `serve` on the embedded default in `dir` and returns it with the address it
/// printed.
fn start_serve(dir: &Path) -> (Server, String) {
    crate::common::serve::start_embedded(dir, &[])
}

fn signal(server: &Server, name: &str) {
    let status = Command::new("kill")
        .args([&format!("-{name}"), &server.0.id().to_string()])
        .status()
        .unwrap();
    assert!(status.success());
}

fn wait_exit(server: &mut Server) -> i32 {
    let child = &mut server.0;
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        if let Some(status) = child.try_wait().unwrap() {
            return status.code().unwrap_or(-1);
        }
        assert!(Instant::now() < deadline, "serve did not exit");
        std::thread::sleep(Duration::from_millis(50));
    }
}

async fn get(addr: &str, path: &str) -> (u16, String) {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let mut s = tokio::net::TcpStream::connect(addr).await.unwrap();
    s.write_all(
        format!("GET {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n").as_bytes(),
    )
    .await
    .unwrap();
    let mut out = String::new();
    s.read_to_string(&mut out).await.unwrap();
    let status = out[9..12].parse().unwrap();
    (
        status,
        out.split("\r\n\r\n").nth(1).unwrap_or("").to_owned(),
    )
}

fn cluster_running(dir: &Path) -> bool {
    dir.join("pg/postmaster.pid").exists()
}

fn medchain(dir: &Path, args: &[&str]) -> (i32, String, String) {
    let out = Command::new(BIN)
        .args(args)
        .arg("--data-dir")
        .arg(dir)
        .env_remove("DATABASE_URL")
        .output()
        .unwrap();
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).trim().to_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn serve_keeps_the_ledger_across_restarts_and_stops_its_cluster_on_signals() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("data");

    let (mut server, addr) = start_serve(&dir);
    let (status, body) = get(&addr, "/health").await;
    assert_eq!(status, 200, "{body}");
    assert!(cluster_running(&dir));

    // A second serve on the same directory is refused.
    let (code, _, err) = medchain(&dir, &["serve", "--listen", "127.0.0.1:0"]);
    assert_ne!(code, 0);
    assert!(err.contains("in use"), "{err}");

    // Events appended through the running cluster (as a command would borrow it).
    let url = tokio::task::spawn_blocking({
        let dir = dir.clone();
        move || {
            let bins = medchain::embedded::PgBinaries::find().unwrap();
            medchain::embedded::attach_for_command(&dir, &bins)
                .unwrap()
                .url()
        }
    })
    .await
    .unwrap();
    let pool = commands::db::connect(&url, 2).await.unwrap();
    let store = EventStore::start(pool.clone(), Arc::new(SystemClock));
    let stream = StreamName::new("test", Uuid::new_v4()).unwrap();
    let events = (0..5)
        .map(|i| {
            NewEvent::new(
                EventType::parse("Tested").unwrap(),
                None,
                &serde_json::json!({"i": i}),
            )
            .unwrap()
        })
        .collect();
    store
        .append(&stream, ExpectedVersion::Exact(0), events)
        .await
        .unwrap();
    drop(store);
    pool.close().await;

    // A command while serve runs uses its cluster.
    let (code, out, err) = medchain(&dir, &["ledger", "verify"]);
    assert_eq!(code, 0, "{err}");
    assert!(out.starts_with("OK: 5 events, head "), "{out}");

    // Ctrl-C stops the server and its cluster.
    signal(&server, "INT");
    assert_eq!(wait_exit(&mut server), 0);
    assert!(!cluster_running(&dir), "the cluster outlived serve");

    // Start again on the same directory: every event is still there; SIGTERM stops it.
    let (mut server, addr) = start_serve(&dir);
    assert_eq!(get(&addr, "/health").await.0, 200);
    let (code, out, _) = medchain(&dir, &["ledger", "verify"]);
    assert_eq!((code, out.starts_with("OK: 5 events")), (0, true), "{out}");
    signal(&server, "TERM");
    assert_eq!(wait_exit(&mut server), 0);
    assert!(!cluster_running(&dir));

    // Without serve, a command starts the cluster for its own duration.
    let (code, out, _) = medchain(&dir, &["ledger", "verify"]);
    assert_eq!((code, out.starts_with("OK: 5 events")), (0, true), "{out}");
    assert!(!cluster_running(&dir));
}

#[test]
fn every_subcommand_has_help_with_the_data_dir() {
    for args in [
        vec!["serve"],
        vec!["ledger", "verify"],
        vec!["ledger", "export"],
        vec!["ledger", "checkpoint"],
        vec!["ledger", "pubkey"],
        vec!["bench", "ledger"],
    ] {
        let out = Command::new(BIN)
            .args(&args)
            .arg("--help")
            .output()
            .unwrap();
        let text = String::from_utf8_lossy(&out.stdout);
        assert!(
            out.status.success() && text.contains("--data-dir"),
            "{args:?}: {text}"
        );
    }
}

#[test]
fn without_postgres_serve_says_so_in_one_line_and_exits_2() {
    let tmp = tempfile::tempdir().unwrap();
    let out = Command::new(BIN)
        .args(["serve", "--listen", "127.0.0.1:0", "--data-dir"])
        .arg(tmp.path().join("data"))
        .env_remove("DATABASE_URL")
        .env("MEDCHAIN_PG_BIN", tmp.path())
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert_eq!(stderr.lines().count(), 1, "{stderr}");
    assert!(
        stderr.contains("apt-get install postgresql") && stderr.contains("DATABASE_URL"),
        "{stderr}"
    );
}
