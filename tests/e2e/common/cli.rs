//! Running the `medchain` binary on a test's database, as an operator would.

use super::app::TestApp;
use std::path::Path;

/// Runs the binary on the test's database with `data_dir` (checkpoints, the ledger key),
/// with the server's master key and key-epoch store.
pub async fn medchain(app: &TestApp, data_dir: &Path, args: &[&str]) -> (i32, String, String) {
    medchain_with(app, data_dir, args, &[]).await
}

/// `medchain`, with more environment.
pub async fn medchain_with(
    app: &TestApp,
    data_dir: &Path,
    args: &[&str],
    env: &[(&str, &str)],
) -> (i32, String, String) {
    let key = data_dir.join("master.key");
    if !key.exists() {
        std::fs::create_dir_all(data_dir).unwrap();
        std::fs::write(&key, hex::encode(app.master_key)).unwrap();
    }
    let out = tokio::process::Command::new(env!("CARGO_BIN_EXE_medchain"))
        .args(args)
        .arg("--data-dir")
        .arg(data_dir)
        .env("DATABASE_URL", &app.db.url)
        .env("MEDCHAIN_MASTER_KEY_FILE", &key)
        .env("MEDCHAIN_KEY_EPOCH_STORE", app.key_epochs.path())
        .envs(env.iter().copied())
        .env_remove("MEDCHAIN_CHECKPOINT_DIR")
        .env_remove("MEDCHAIN_LEDGER_KEY_FILE")
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
