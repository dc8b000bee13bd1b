//! Backups (issue 27), the database part: a base backup and the WAL archived after it
//! (`pg_receivewal --synchronous`) while events keep being appended; the cluster
//! restored from them holds every acknowledged event and its chain verifies.

use medchain::backup::database::{Layout, archive_wal, base_backup, create_slot};
use medchain::embedded::{PgBinaries, PrivateCluster};
use std::io::BufRead as _;
use std::time::Duration;

/// Runs `medchain dev append-loop` on `url` for `seconds`; the highest seq it saw
/// acknowledged.
fn append_for(url: &str, dir: &std::path::Path, seconds: u64) -> i64 {
    let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_medchain"))
        .args(["dev", "append-loop", "--data-dir"])
        .arg(dir)
        .env("DATABASE_URL", url)
        .env("RUST_LOG", "warn")
        .stdout(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let stdout = child.stdout.take().unwrap();
    let reader = std::thread::spawn(move || {
        std::io::BufReader::new(stdout)
            .lines()
            .map_while(Result::ok)
            .filter_map(|l| l.split_whitespace().next()?.parse::<i64>().ok())
            .max()
            .unwrap_or(0)
    });
    std::thread::sleep(Duration::from_secs(seconds));
    child.kill().unwrap();
    child.wait().unwrap();
    reader.join().unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_restore_from_a_base_backup_and_its_wal_reaches_the_last_acknowledged_event() {
    let tmp = tempfile::tempdir().unwrap();
    let bins = PgBinaries::find().unwrap();
    let primary = {
        let (bins, dir) = (bins.clone(), tmp.path().join("primary"));
        tokio::task::spawn_blocking(move || PrivateCluster::create(&bins, &dir).unwrap())
            .await
            .unwrap()
    };
    let url = primary.url();
    commands::db::connect_and_migrate(&url, 2).await.unwrap();
    let data = tmp.path().join("cli");
    let before = append_for(&url, &data, 1);
    assert!(before > 0);

    let layout = Layout {
        root: tmp.path().join("backup"),
    };
    std::fs::create_dir_all(layout.wal()).unwrap();
    base_backup(&bins, &url, &layout).unwrap();
    create_slot(&bins, &url, &layout).unwrap();
    let mut archiver = archive_wal(&bins, &url, &layout, None).unwrap();

    let acknowledged = append_for(&url, &data, 2);
    assert!(acknowledged > before);
    // The archiver has everything once it reports flushed what the primary flushed.
    let pool = sqlx::PgPool::connect(&url).await.unwrap();
    loop {
        let caught_up: bool = sqlx::query_scalar(
            "SELECT coalesce((SELECT flush_lsn >= pg_current_wal_flush_lsn() \
               FROM pg_stat_replication WHERE application_name = 'pg_receivewal'), false)",
        )
        .fetch_one(&pool)
        .await
        .unwrap();
        if caught_up {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    pool.close().await;
    archiver.kill().await.unwrap();
    drop(primary);

    let restored = {
        let (bins, dir, base, wal) = (
            bins.clone(),
            tmp.path().join("restored"),
            layout.base(),
            layout.wal(),
        );
        tokio::task::spawn_blocking(move || {
            PrivateCluster::restored(&bins, &dir, &base, &wal).unwrap()
        })
        .await
        .unwrap()
    };
    let pool = sqlx::PgPool::connect(&restored.url()).await.unwrap();
    loop {
        let recovering: bool = sqlx::query_scalar("SELECT pg_is_in_recovery()")
            .fetch_one(&pool)
            .await
            .unwrap();
        if !recovering {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let head: i64 = sqlx::query_scalar("SELECT max(seq) FROM events")
        .fetch_one(&pool)
        .await
        .unwrap();
    assert!(
        head >= acknowledged,
        "the restore reaches seq {head}, the last acknowledged was {acknowledged}"
    );
    pool.close().await;
    let verified = tokio::process::Command::new(env!("CARGO_BIN_EXE_medchain"))
        .args(["ledger", "verify", "--data-dir"])
        .arg(&data)
        .env("DATABASE_URL", restored.url())
        .env("RUST_LOG", "warn")
        .output()
        .await
        .unwrap();
    assert!(
        verified.status.success(),
        "{}{}",
        String::from_utf8_lossy(&verified.stdout),
        String::from_utf8_lossy(&verified.stderr)
    );
}
