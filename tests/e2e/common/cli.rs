//! Running the `medchain` binary on a test's database, as an operator would.

use super::app::TestApp;
use std::path::Path;

/// Runs the binary on the test's database with `data_dir` (checkpoints, the ledger key),
/// with the server's master key and key-epoch store.
pub async fn medchain(app: &TestApp, data_dir: &Path, args: &[&str]) -> (i32, String, String) {
    medchain_with(app, data_dir, args, &[]).await
}

/// The binary's command line on the test's database, the server's master key and
/// key-epoch store, and `data_dir`, for a test that runs it its own way.
pub fn command(app: &TestApp, data_dir: &Path, args: &[&str]) -> tokio::process::Command {
    let key = data_dir.join("master.key");
    if !key.exists() {
        std::fs::create_dir_all(data_dir).unwrap();
        std::fs::write(&key, hex::encode(app.master_key)).unwrap();
    }
    let mut command = tokio::process::Command::new(env!("CARGO_BIN_EXE_medchain"));
    command
        .args(args)
        .arg("--data-dir")
        .arg(data_dir)
        .env("DATABASE_URL", &app.db.url)
        .env("MEDCHAIN_MASTER_KEY_FILE", &key)
        .env("MEDCHAIN_KEY_EPOCH_STORE", app.key_epochs.path())
        .env_remove("MEDCHAIN_CHECKPOINT_DIR")
        .env_remove("MEDCHAIN_LEDGER_KEY_FILE")
        .env("RUST_LOG", "warn");
    command
}

/// `medchain`, with more environment.
pub async fn medchain_with(
    app: &TestApp,
    data_dir: &Path,
    args: &[&str],
    env: &[(&str, &str)],
) -> (i32, String, String) {
    let out = command(app, data_dir, args)
        .envs(env.iter().copied())
        .output()
        .await
        .unwrap();
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}
