//! The embedded cluster against the machine's real PostgreSQL: data survives a
//! restart, a data directory has one owner, a crash's leftovers are cleared, commands
//! share the cluster of a running `serve`, and each test gets its own database.

use crate::common;

use std::os::unix::fs::MetadataExt;
use std::os::unix::process::CommandExt;
use std::path::Path;
use std::process::Command;
use std::time::Duration;

use medchain::embedded::{
    Attached, ClusterError, EmbeddedCluster, PgBinaries, attach_for_command, attach_for_serve,
};
use sqlx::{Connection, PgConnection};

fn bins() -> PgBinaries {
    PgBinaries::find().unwrap_or_else(|e| panic!("{e}"))
}

fn block_on<F: Future>(future: F) -> F::Output {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap()
        .block_on(future)
}

async fn execute(url: &str, sql: &'static str) {
    let mut conn = PgConnection::connect(url).await.unwrap();
    sqlx::raw_sql(sql).execute(&mut conn).await.unwrap();
    conn.close().await.unwrap();
}

async fn notes(url: &str) -> Vec<String> {
    let mut conn = PgConnection::connect(url).await.unwrap();
    let rows = sqlx::query_scalar("SELECT body FROM notes ORDER BY body")
        .fetch_all(&mut conn)
        .await
        .unwrap();
    conn.close().await.unwrap();
    rows
}

fn serve(dir: &Path) -> EmbeddedCluster {
    attach_for_serve(dir, &bins()).unwrap_or_else(|e| panic!("{}", common::chain(&e)))
}

fn postmaster_pid(dir: &Path) -> Option<u32> {
    let text = std::fs::read_to_string(dir.join("pg/postmaster.pid")).ok()?;
    text.lines().next()?.trim().parse().ok()
}

fn is_alive(pid: u32) -> bool {
    std::fs::read_to_string(format!("/proc/{pid}/stat")).is_ok_and(|stat| {
        !stat
            .rsplit_once(')')
            .is_some_and(|(_, s)| s.trim_start().starts_with('Z'))
    })
}

/// Whether `pid` exits within a few seconds (a postmaster removes its pid file, which
/// `pg_ctl stop` waits for, just before it exits).
fn exits_soon(pid: u32) -> bool {
    (0..100).any(|_| {
        std::thread::sleep(Duration::from_millis(50));
        !is_alive(pid)
    })
}

#[test]
fn rows_survive_a_stop_and_a_start() {
    let dir = tempfile::tempdir().unwrap();
    let cluster = serve(dir.path());
    block_on(execute(
        &cluster.url(),
        "CREATE TABLE notes (body text); INSERT INTO notes VALUES ('kept')",
    ));
    cluster.stop().unwrap();
    assert_eq!(postmaster_pid(dir.path()), None, "the server is stopped");

    let cluster = serve(dir.path());
    assert_eq!(block_on(notes(&cluster.url())), ["kept"]);
    cluster.stop().unwrap();
    // The data directory holds keys and the outbox: never open to others, even when
    // the cluster runs as another user (as root, postgres gets group search only).
    use std::os::unix::fs::PermissionsExt as _;
    let mode = std::fs::metadata(dir.path()).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode & 0o007, 0, "the data directory is {mode:o}");
}

#[test]
fn a_second_serve_is_told_the_directory_is_in_use() {
    let dir = tempfile::tempdir().unwrap();
    let cluster = serve(dir.path());
    let second = attach_for_serve(dir.path(), &bins());
    let Err(err @ ClusterError::InUse { pid, .. }) = second else {
        panic!("expected InUse, got {second:?}");
    };
    assert_eq!(pid, Some(std::process::id()));
    let message = err.to_string();
    assert!(message.contains("in use"), "{message}");
    assert!(
        message.contains(&std::process::id().to_string()),
        "{message}"
    );
    cluster.stop().unwrap();
}

#[test]
fn a_stale_postmaster_pid_is_cleared() {
    let dir = tempfile::tempdir().unwrap();
    serve(dir.path()).stop().unwrap();
    let pid_file = dir.path().join("pg/postmaster.pid");

    // A crash left the file; its process is gone.
    let mut gone = Command::new("true").spawn().unwrap();
    let dead = gone.id();
    gone.wait().unwrap();
    std::fs::write(
        &pid_file,
        format!("{dead}\n{}\n", dir.path().join("pg").display()),
    )
    .unwrap();
    let cluster = serve(dir.path());
    assert_ne!(postmaster_pid(dir.path()), Some(dead));
    cluster.stop().unwrap();

    // The pid was reused by an unrelated live process (this one).
    std::fs::write(&pid_file, format!("{}\n", std::process::id())).unwrap();
    let cluster = serve(dir.path());
    assert_ne!(postmaster_pid(dir.path()), Some(std::process::id()));
    cluster.stop().unwrap();
}

#[test]
fn a_server_orphaned_by_a_killed_medchain_is_replaced() {
    let dir = tempfile::tempdir().unwrap();
    serve(dir.path()).stop().unwrap();

    // What a SIGKILLed `medchain serve` leaves: its server still running, no lock held.
    let pg = dir.path().join("pg");
    let owner = std::fs::metadata(&pg).unwrap();
    let started = Command::new(bins().pg_ctl())
        .uid(owner.uid())
        .gid(owner.gid())
        .current_dir("/")
        .arg("start")
        .arg("-D")
        .arg(&pg)
        .arg("-l")
        .arg(pg.join("log/startup.log"))
        .args(["-w", "-s"])
        .output()
        .unwrap();
    assert!(started.status.success(), "{started:?}");
    let orphan = postmaster_pid(dir.path()).unwrap();
    assert!(is_alive(orphan));

    let cluster = serve(dir.path());
    assert!(exits_soon(orphan), "the orphaned server was stopped");
    assert_ne!(postmaster_pid(dir.path()), Some(orphan));
    block_on(execute(&cluster.url(), "SELECT 1"));
    cluster.stop().unwrap();
}

#[test]
fn a_command_uses_the_cluster_of_a_running_serve() {
    let dir = tempfile::tempdir().unwrap();
    let cluster = serve(dir.path());
    block_on(execute(
        &cluster.url(),
        "CREATE TABLE notes (body text); INSERT INTO notes VALUES ('shared')",
    ));

    let attached = attach_for_command(dir.path(), &bins()).unwrap();
    assert!(
        matches!(attached, Attached::Borrowed { .. }),
        "{attached:?}"
    );
    assert_eq!(block_on(notes(&attached.url())), ["shared"]);
    cluster.stop().unwrap();

    // With no serve running, the command owns the cluster for its own run.
    let attached = attach_for_command(dir.path(), &bins()).unwrap();
    assert_eq!(block_on(notes(&attached.url())), ["shared"]);
    let Attached::Owned(owned) = attached else {
        panic!("expected Owned, got {attached:?}");
    };
    owned.stop().unwrap();
}

#[test]
fn a_command_waits_while_another_command_owns_the_cluster() {
    let dir = tempfile::tempdir().unwrap();
    let Attached::Owned(first) = attach_for_command(dir.path(), &bins()).unwrap() else {
        panic!("the first command owns the cluster");
    };
    let path = dir.path().to_path_buf();
    let second = std::thread::spawn(move || attach_for_command(&path, &bins()));
    std::thread::sleep(Duration::from_millis(500));
    assert!(!second.is_finished(), "the second command waits");
    first.stop().unwrap();

    let Attached::Owned(second) = second.join().unwrap().unwrap() else {
        panic!("the second command owns the cluster once the first is done");
    };
    block_on(execute(&second.url(), "SELECT 1"));
    second.stop().unwrap();
}

#[test]
fn dropping_an_owned_cluster_stops_its_server() {
    let dir = tempfile::tempdir().unwrap();
    let cluster = serve(dir.path());
    let pid = postmaster_pid(dir.path()).unwrap();
    drop(cluster);
    assert!(exits_soon(pid));
}

#[tokio::test]
async fn each_test_gets_its_own_empty_database() {
    let a = common::test_db().await;
    let b = common::test_db().await;
    assert_ne!(a.name, b.name);
    execute(&a.url, "CREATE TABLE notes (body text)").await;
    let mut conn = PgConnection::connect(&b.url).await.unwrap();
    let seen: Option<String> = sqlx::query_scalar("SELECT to_regclass('notes')::text")
        .fetch_one(&mut conn)
        .await
        .unwrap();
    assert_eq!(seen, None, "b does not see a's table");
}

#[test]
fn a_url_gets_its_database_replaced() {
    assert_eq!(
        common::with_database(
            "postgres://postgres@localhost:5432/postgres?host=/x/run",
            "t_1"
        ),
        "postgres://postgres@localhost:5432/t_1?host=/x/run"
    );
    assert_eq!(
        common::with_database(
            "postgres://u:p@db.example:5433?dbname=a&sslmode=disable",
            "t_2"
        ),
        "postgres://u:p@db.example:5433/t_2?sslmode=disable"
    );
    assert_eq!(
        common::with_database("postgres:///?host=/s", "t_3"),
        "postgres:///t_3?host=/s"
    );
}
