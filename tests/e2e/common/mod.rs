//! What the integration tests share: a fresh, empty PostgreSQL database for each test,
//! on `TEST_DATABASE_URL`'s server when set, otherwise on this checkout's shared test
//! cluster (started on first use by `medchain dev test-cluster`, see
//! `medchain::embedded::test_cluster`), so tests never see each other's data.

// Each test module uses a different part of it.
#![allow(dead_code)]

pub mod app;
pub mod cli;
pub mod moto;
pub mod records;
pub mod serve;
pub mod smtp;
pub mod tamper;
pub mod ws;

use std::path::Path;

use sqlx::{Connection, PgConnection};

/// One test's own database. On a `TEST_DATABASE_URL` server it is dropped with the value
/// (unless the test panicked, to keep it for a look); the shared test cluster is
/// thrown away whole when the tests stop using it, which is cheaper than a
/// `DROP DATABASE` (a checkpoint) per test.
#[derive(Debug)]
pub struct TestDb {
    /// Connection URL of this test's database.
    pub url: String,
    /// Connection URL of the server's admin database (`postgres`).
    pub admin_url: String,
    /// The database's name, `t_<uuid>`.
    pub name: String,
    drop_on_exit: bool,
}

/// Creates an empty database for the calling test (no migrations run).
pub async fn test_db() -> TestDb {
    let bin = Path::new(env!("CARGO_BIN_EXE_medchain"));
    let admin_url = tokio::task::spawn_blocking(move || {
        medchain::embedded::test_cluster::test_server_admin_url(bin)
    })
    .await
    .expect("finding the test server panicked")
    .unwrap_or_else(|e| panic!("no PostgreSQL server for tests: {}", chain(&e)));
    let name = format!("t_{}", uuid::Uuid::new_v4().simple());
    let mut admin = PgConnection::connect(&admin_url)
        .await
        .unwrap_or_else(|e| panic!("cannot connect to the test server's admin database: {e}"));
    sqlx::raw_sql(sqlx::AssertSqlSafe(format!("CREATE DATABASE {name}")))
        .execute(&mut admin)
        .await
        .unwrap_or_else(|e| panic!("cannot create the test database {name}: {e}"));
    let _ = admin.close().await;
    TestDb {
        url: with_database(&admin_url, &name),
        admin_url,
        name,
        drop_on_exit: std::env::var_os("TEST_DATABASE_URL").is_some_and(|v| !v.is_empty()),
    }
}

impl Drop for TestDb {
    fn drop(&mut self) {
        if !self.drop_on_exit || std::thread::panicking() {
            return;
        }
        let admin_url = self.admin_url.clone();
        let sql = format!("DROP DATABASE IF EXISTS {} WITH (FORCE)", self.name);
        // Drop cannot await, and may run inside the test's runtime: use a thread with
        // a runtime of its own.
        let dropped = std::thread::spawn(move || {
            tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .expect("a runtime to drop the test database")
                .block_on(async {
                    let mut admin = PgConnection::connect(&admin_url).await?;
                    sqlx::raw_sql(sqlx::AssertSqlSafe(sql))
                        .execute(&mut admin)
                        .await
                        .map(drop)
                })
        })
        .join();
        if let Ok(Err(e)) = dropped {
            eprintln!("could not drop test database {}: {e}", self.name);
        }
    }
}

pub use medchain::database::with_database;

/// Runs the auditors' reference tool, `tools/verify-export.py`, on a ledger export
/// (optionally against a checkpoint) and returns what it printed: `OK: …` or
/// `FAILED at seq …`.
pub fn python_verify_export(export: &Path, checkpoint: Option<&Path>) -> String {
    let tool = Path::new(env!("CARGO_MANIFEST_DIR")).join("tools/verify-export.py");
    let mut cmd = std::process::Command::new("python3");
    cmd.arg(&tool).arg(export);
    if let Some(checkpoint) = checkpoint {
        cmd.arg("--checkpoint").arg(checkpoint);
    }
    let out = cmd
        .output()
        .unwrap_or_else(|e| panic!("cannot run python3 {}: {e}", tool.display()));
    let stdout = String::from_utf8_lossy(&out.stdout).trim().to_owned();
    if stdout.is_empty() {
        String::from_utf8_lossy(&out.stderr).trim().to_owned()
    } else {
        stdout
    }
}

/// An error and its causes on one line.
pub fn chain(error: &dyn std::error::Error) -> String {
    let mut text = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        text.push_str(": ");
        text.push_str(&cause.to_string());
        source = cause.source();
    }
    text
}
