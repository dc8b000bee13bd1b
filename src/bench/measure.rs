//! Small tools for the benchmarks: latency percentiles, process CPU time, and a scratch
//! database that is dropped afterwards.

use std::time::Duration;

/// Latencies in microseconds, sorted on demand.
#[derive(Default, Clone)]
pub struct Latencies(Vec<u32>);

impl Latencies {
    pub fn record(&mut self, d: Duration) {
        self.0
            .push(u32::try_from(d.as_micros()).unwrap_or(u32::MAX));
    }

    pub fn extend(&mut self, other: Latencies) {
        self.0.extend(other.0);
    }

    pub fn count(&self) -> usize {
        self.0.len()
    }

    /// The `p`-th percentile (0–100) in milliseconds.
    pub fn percentile_ms(&mut self, p: f64) -> f64 {
        if self.0.is_empty() {
            return f64::NAN;
        }
        self.0.sort_unstable();
        let rank = ((p / 100.0) * (self.0.len() - 1) as f64).round() as usize;
        f64::from(self.0[rank]) / 1000.0
    }
}

/// CPU time (user + system) this process has used, from `/proc/self/stat`.
pub fn process_cpu() -> Option<Duration> {
    cpu_from("/proc/self/stat")
}

/// CPU time (user + system) process `pid` has used, all its threads, those that have
/// ended included, from `/proc/<pid>/stat`; 10 ms granularity.
pub fn process_cpu_of(pid: u32) -> Option<Duration> {
    cpu_from(&format!("/proc/{pid}/stat"))
}

fn cpu_from(path: &str) -> Option<Duration> {
    let stat = std::fs::read_to_string(path).ok()?;
    // Fields after the command name (which is in parentheses and may hold spaces).
    let rest = &stat[stat.rfind(')')? + 2..];
    let fields: Vec<&str> = rest.split_whitespace().collect();
    let utime: u64 = fields.get(11)?.parse().ok()?;
    let stime: u64 = fields.get(12)?.parse().ok()?;
    // Linux reports these in USER_HZ, which is 100 on every platform it supports.
    Some(Duration::from_millis((utime + stime) * 10))
}

/// The calling thread's time on CPU, from the scheduler's own accounting (nanoseconds,
/// `/proc/thread-self/schedstat`): for a bare cost measured on one thread.
pub fn thread_cpu() -> Option<Duration> {
    let text = std::fs::read_to_string("/proc/thread-self/schedstat").ok()?;
    Some(Duration::from_nanos(
        text.split_whitespace().next()?.parse().ok()?,
    ))
}

/// Time on CPU of process `pid` (all its threads' scheduler accounting, nanoseconds), from
/// `/proc/<pid>/schedstat`; readable for other users' processes too, such as a
/// PostgreSQL backend.
pub fn pid_cpu_nanos(pid: u64) -> Option<u64> {
    if pid == 0 {
        return None;
    }
    let text = std::fs::read_to_string(format!("/proc/{pid}/schedstat")).ok()?;
    text.split_whitespace().next()?.parse().ok()
}

/// Runs `bench` against a fresh database beside the configured one (its URL given), and
/// drops that database afterwards, whatever the bench returned.
pub async fn in_scratch_database<F, Fut>(
    common: &crate::cli::Common,
    bench: F,
) -> anyhow::Result<()>
where
    F: FnOnce(String) -> Fut,
    Fut: std::future::Future<Output = anyhow::Result<()>>,
{
    use crate::database::{Database, Purpose, with_database};
    let db = Database::open(common, Purpose::Command, 2).await?;
    let name = format!("medchain_bench_{}", uuid::Uuid::new_v4().simple());
    sqlx::query(sqlx::AssertSqlSafe(format!("CREATE DATABASE {name}")))
        .execute(&db.pool)
        .await?;
    let result = bench(with_database(&db.url, &name)).await;
    sqlx::query(sqlx::AssertSqlSafe(format!(
        "DROP DATABASE IF EXISTS {name} WITH (FORCE)"
    )))
    .execute(&db.pool)
    .await?;
    db.close().await;
    result
}

/// The real server on `pool` and a free local port, as the benches drive it: keys made
/// for the run (the master key is the caller's, so it can register people directly),
/// throwaway folders, and automatic checkpoints out of the way. Sending on the returned
/// sender stops it; the handle ends when it has.
pub async fn bench_server(
    pool: sqlx::PgPool,
    master_key: commands::keys::MasterKey,
    key_epochs: commands::keys::EpochStore,
) -> anyhow::Result<(
    std::net::SocketAddr,
    tokio::sync::oneshot::Sender<()>,
    tokio::task::JoinHandle<std::io::Result<()>>,
)> {
    use crate::server::{Checkpointing, ServerConfig, spawn};
    use commands::{
        SystemClock, accounts::SessionPolicy, blobs::BlobStore, keys::LedgerKey, mail::Mailer,
        password_hasher::PasswordHasher,
    };
    use std::sync::Arc;
    let scratch = std::env::temp_dir();
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let (addr, task) = spawn(
        pool,
        ServerConfig {
            replicas: None,
            metrics: None,
            master_key,
            key_epochs,
            key_epoch: std::time::Duration::from_secs(24 * 3600),
            sessions: SessionPolicy::default(),
            public_origin: None,
            trusted_proxies: graphql::TrustedProxies::none(),
            dev_tools: false,
            mfa_required: domain::account::MfaPolicy::none(),
            rate_limits: commands::rate_limit::Limits::default(),
            clock: Arc::new(SystemClock),
            hasher: PasswordHasher::new()?,
            mailer: Mailer::new(
                None,
                &scratch.join("medchain-bench-outbox"),
                "MedChain <medchain@localhost>",
                "http://localhost",
            )?,
            blobs: BlobStore::open(None, &scratch.join("medchain-bench-blobs"))?,
            uploads: commands::records::UploadLimits::default(),
            share_sweep: Duration::from_secs(30),
            emergency: Default::default(),
            checkpoints: Checkpointing {
                store: commands::ledger::CheckpointStore::open(
                    &scratch
                        .join("medchain-bench-checkpoints")
                        .display()
                        .to_string(),
                )?,
                key: Arc::new(LedgerKey::generate()),
                witnesses: Default::default(),
                witness_silence: Duration::from_secs(7200),
                policy: crate::checkpointer::Policy {
                    every_events: 1_000_000_000,
                    every: Duration::from_secs(24 * 3600),
                },
            },
        },
        tokio::net::TcpListener::bind("127.0.0.1:0").await?,
        async {
            let _ = stopped.await;
        },
    )
    .await?;
    Ok((addr, stop, task))
}
