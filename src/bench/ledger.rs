//! `medchain bench ledger`: append throughput and latency through the group-commit
//! appender, beside one transaction per append and the batched-insert limit of the same
//! lock pattern, at several writer counts; then verification speed. All in a fresh
//! database that is dropped at the end.

use super::measure::{Latencies, pid_cpu_nanos, process_cpu};
use crate::cli::Common;
use commands::{
    EventStore, ExpectedVersion, NewEvent, SystemClock, event_store::LEDGER_LOCK_KEY,
    ledger::verify_ledger,
};
use domain::{
    EventType, StreamName, Timestamp,
    ledger::{CanonicalPayload, Entry, Hash},
};
use serde_json::json;
use sqlx::{PgPool, postgres::PgConnectOptions};
use std::{
    str::FromStr,
    sync::Arc,
    time::{Duration, Instant},
};
use uuid::Uuid;

pub(super) struct Run {
    events: u64,
    elapsed: Duration,
    latencies: Latencies,
}

impl Run {
    fn empty() -> Self {
        Self {
            events: 0,
            elapsed: Duration::ZERO,
            latencies: Latencies::default(),
        }
    }

    fn merge(&mut self, other: Run) {
        self.events += other.events;
        self.elapsed += other.elapsed;
        self.latencies.extend(other.latencies);
    }

    pub(super) fn rate(&self) -> f64 {
        self.events as f64 / self.elapsed.as_secs_f64()
    }
}

pub async fn run(
    common: &Common,
    seconds: u64,
    writers: &[usize],
    verify_events: i64,
) -> anyhow::Result<()> {
    super::measure::in_scratch_database(common, |url| async move {
        bench_in(&url, seconds, writers, verify_events).await
    })
    .await
}

async fn bench_in(
    url: &str,
    seconds: u64,
    writers: &[usize],
    verify_events: i64,
) -> anyhow::Result<()> {
    let options = PgConnectOptions::from_str(url)?.application_name("medchain-bench");
    let max = writers.iter().copied().max().unwrap_or(1).clamp(8, 260) as u32;
    let pool = commands::db::pool_options(max)
        .connect_with(options)
        .await?;
    commands::db::MIGRATOR.run(&pool).await?;
    let duration = Duration::from_secs(seconds);
    let store = EventStore::start(pool.clone(), Arc::new(SystemClock));

    let (canon_ns, hash_ns) = bare_hashing_cost();
    println!(
        "bare cost on this machine: canonical JSON of a payload {canon_ns:.0} ns; entry bytes + SHA-256 {hash_ns:.0} ns"
    );
    eprintln!(
        "measuring for {seconds} s each; this run takes about {} s",
        seconds * (2 * writers.len() as u64 + 1) + 10
    );
    let limit = limit_run(&pool, 4, duration).await?;
    println!(
        "limit: batched INSERTs of 100 rows a transaction under the ledger lock (4 clients): {:.0} events/s",
        limit.rate()
    );
    println!();
    println!(
        "{:>7} | {:>22} {:>8} {:>8} | {:>22} {:>8} {:>8}",
        "writers",
        "group commit events/s",
        "p50 ms",
        "p99 ms",
        "one txn/append ev/s",
        "p50 ms",
        "p99 ms"
    );

    let mut rows = Vec::new();
    let mut hashing_share = None;
    let mut appender_share = None;
    for &w in writers {
        // Each mode runs in two halves, alternating, so both see the same background
        // (checkpoints, WAL flushes, other load on a shared machine).
        let half = duration / 2;
        let cpu_before = process_cpu();
        let stats_before = store.appender_stats();
        let backend_before = pid_cpu_nanos(stats_before.backend_pid);
        let (mut group, canon_nanos) = group_commit_run(&store, w, half).await?;
        let stats = store.appender_stats();
        let backend_cpu = match (backend_before, pid_cpu_nanos(stats.backend_pid)) {
            (Some(b), Some(a)) if stats.backend_pid == stats_before.backend_pid => Some(a - b),
            _ => None,
        };
        if let (Some(before), Some(after)) = (cpu_before, process_cpu())
            && w == 64
        {
            let hashing =
                Duration::from_nanos(stats.hash_nanos - stats_before.hash_nanos + canon_nanos);
            let appender_cpu = stats
                .thread_cpu_nanos
                .saturating_sub(stats_before.thread_cpu_nanos);
            let hash_nanos = (stats.hash_nanos - stats_before.hash_nanos) as f64;
            let canon = canon_nanos as f64;
            appender_share = (appender_cpu > 0).then(|| {
                (
                    hash_nanos / appender_cpu as f64,
                    backend_cpu.map(|b| {
                        let whole = (appender_cpu + b) as f64;
                        (hash_nanos / whole, (hash_nanos + canon) / (whole + canon))
                    }),
                )
            });
            hashing_share = Some((
                hashing.as_secs_f64() / (after - before).as_secs_f64(),
                stats.events - stats_before.events,
                stats.batches - stats_before.batches,
            ));
        }
        let mut single = one_txn_run(&pool, w, half).await?;
        let (group2, _) = group_commit_run(&store, w, half).await?;
        single.merge(one_txn_run(&pool, w, half).await?);
        group.merge(group2);
        println!(
            "{w:>7} | {:>22.0} {:>8.2} {:>8.2} | {:>22.0} {:>8.2} {:>8.2}",
            group.rate(),
            group.latencies.percentile_ms(50.0),
            group.latencies.percentile_ms(99.0),
            single.rate(),
            single.latencies.percentile_ms(50.0),
            single.latencies.percentile_ms(99.0)
        );
        rows.push((w, group, single));
    }

    println!();
    println!("ratios (targets in brackets):");
    let find = |w: usize| rows.iter().find(|r| r.0 == w);
    if let Some((_, g, s)) = find(64) {
        println!(
            "  group commit @64 / 100-rows limit:        {:.2}  [>= 0.60]",
            g.rate() / limit.rate()
        );
        println!(
            "  group commit @64 / one txn per append @64: {:.1}  [>= 10]",
            g.rate() / s.rate()
        );
    }
    if let (Some((_, g16, _)), Some((_, g256, _))) = (find(16), find(256)) {
        println!(
            "  group commit @256 / @16:                  {:.2}  [>= 0.90]",
            g256.rate() / g16.rate()
        );
    }
    if let Some((_, g, s)) = rows.iter_mut().find(|r| r.0 == 1) {
        let (gp, sp) = (
            g.latencies.percentile_ms(50.0),
            s.latencies.percentile_ms(50.0),
        );
        println!(
            "  p50 one writer, group commit / bare locked one-row append: {:.2}  [<= 1.25] ({gp:.3} ms vs {sp:.3} ms)",
            gp / sp
        );
    }
    if let Some((share, events, batches)) = hashing_share {
        println!(
            "  canonical JSON + hashing / this process's CPU @64 (PostgreSQL does the rest): {:.1}%  ({events} events in {batches} transactions, {:.1} events a transaction)",
            share * 100.0,
            events as f64 / batches.max(1) as f64
        );
    }
    if let Some((thread, whole)) = appender_share {
        // The appender's work is done in two processes: its thread here (hashing,
        // encoding the statement) and the PostgreSQL backend of its connection (parsing,
        // inserting, indexing, WAL). Its CPU is the sum of both.
        if let Some((whole, with_canon)) = whole {
            println!(
                "  entry bytes + SHA-256 / the appender's CPU (its thread + its PostgreSQL backend) @64: {:.1}%  [<= 10%]",
                whole * 100.0
            );
            println!(
                "  the same, counting the callers' canonical JSON as appender work too @64:      {:.1}%  [<= 10%]",
                with_canon * 100.0
            );
        }
        println!(
            "  entry bytes + SHA-256 / the appender thread's CPU alone @64: {:.1}%  (canonical payloads are made by the callers)",
            thread * 100.0
        );
    }

    transparency(&store, &pool, duration, verify_events).await?;

    let head = commands::ledger::ledger_head(&pool).await?;
    if head.seq < verify_events {
        eprintln!(
            "appending {} more events to verify {verify_events}",
            verify_events - head.seq
        );
        fill(&pool, verify_events - head.seq).await?;
    }
    let started = Instant::now();
    let verification = verify_ledger(&pool, None).await?;
    let elapsed = started.elapsed();
    let chain = verification
        .outcome
        .map_err(|b| anyhow::anyhow!("verify failed: {b}"))?;
    println!(
        "  verify: {} events in {:.2} s = {:.0} events/s  [>= 200000]",
        chain.events,
        elapsed.as_secs_f64(),
        chain.events as f64 / elapsed.as_secs_f64()
    );
    drop(store);
    pool.close().await;
    Ok(())
}

/// The transparency log's cost: appends @64 with the tree kept beside (the `merkle`
/// projector running in this process) against the same without it, in alternating
/// halves; how fast the tree follows; and inclusion and consistency proofs at
/// `proof_events` events served by the real server beside its `ledgerHead`.
async fn transparency(
    store: &EventStore,
    pool: &PgPool,
    duration: Duration,
    proof_events: i64,
) -> anyhow::Result<()> {
    let tree = || -> Vec<Arc<dyn projections::Projector>> {
        vec![Arc::new(projections::merkle::MerkleProjector)]
    };
    let caught_up = |running: projections::Projections| async move {
        let head = commands::ledger::ledger_head(pool).await?.seq;
        running
            .wait_for(
                &[projections::merkle::NAME],
                head,
                Duration::from_secs(1200),
            )
            .await?;
        anyhow::Ok((running, head))
    };
    let started = Instant::now();
    let before = projections::merkle::size(pool).await?;
    let (running, head) =
        caught_up(projections::Projections::start(pool.clone(), tree()).await?).await?;
    let built = started.elapsed();
    drop(running);

    // Alternating quarters, so both see the same background and the same ledger size (a
    // neighbour's burst on a shared machine moved halves by ±5%). The tree is started and
    // caught up between them (untimed): each timed quarter with it measures keeping up,
    // not catching up.
    let quarter = duration / 4;
    let (mut with, mut without) = (Run::empty(), Run::empty());
    let mut behind = Duration::ZERO;
    for _ in 0..4 {
        without.merge(group_commit_run(store, 64, quarter).await?.0);
        let (running, _) =
            caught_up(projections::Projections::start(pool.clone(), tree()).await?).await?;
        with.merge(group_commit_run(store, 64, quarter).await?.0);
        let at_end = Instant::now();
        let (running, _) = caught_up(running).await?;
        behind = behind.max(at_end.elapsed());
        drop(running); // the next half runs without the tree
    }
    println!();
    println!("transparency log:");
    println!(
        "  the tree built over {} events in {:.2} s = {:.0} events/s",
        head - before,
        built.as_secs_f64(),
        (head - before) as f64 / built.as_secs_f64().max(1e-9)
    );
    println!(
        "  group commit @64 with the tree kept beside / without (alternating quarters): {:.2}  [>= 0.90] ({:.0} vs {:.0} events/s; the tree was at most {:.0} ms behind at a quarter's end)",
        with.rate() / without.rate(),
        with.rate(),
        without.rate(),
        behind.as_secs_f64() * 1000.0
    );

    let now = commands::ledger::ledger_head(pool).await?.seq;
    if now < proof_events {
        eprintln!(
            "appending {} more events for the proofs",
            proof_events - now
        );
        fill(pool, proof_events - now).await?;
    }
    let (running, size) =
        caught_up(projections::Projections::start(pool.clone(), tree()).await?).await?;
    drop(running);
    proofs_through_the_api(store, pool, duration, size).await
}

/// Inclusion and consistency proofs against a tree of `size` events, asked of the real
/// server (GraphQL, anonymous, as a patient's browser or a witness asks), beside the same
/// server's `ledgerHead` (an administrator's one-row read of the head), in alternating
/// halves.
async fn proofs_through_the_api(
    store: &EventStore,
    pool: &PgPool,
    duration: Duration,
    size: i64,
) -> anyhow::Result<()> {
    use commands::{
        Kernel,
        accounts::{Accounts, RegisterRequest, SessionPolicy},
        keys::{KeyRing, MasterKey},
        password_hasher::PasswordHasher,
    };
    use serde_json::Value;
    const PASSWORD: &str = "a long bench passphrase, 2026";
    let master = MasterKey::generate();
    let epochs_dir = tempfile::tempdir()?;
    let epochs = commands::keys::EpochStore::directory(epochs_dir.path());
    let keys = KeyRing::new(&master, epochs.clone());
    Accounts::new(
        Kernel::new(store.clone(), keys.clone()),
        keys,
        PasswordHasher::new()?,
        Arc::new(SystemClock),
        SessionPolicy::default(),
    )
    .register(RegisterRequest {
        email: "bench-admin@example.org".to_owned(),
        password: PASSWORD.to_owned(),
        name: "Avery Quinn".to_owned(),
        role: domain::account::Role::Admin,
        phone: None,
        via: domain::account::user::Registration::Cli,
        address: None,
    })
    .await
    .map_err(|e| anyhow::anyhow!("{e}"))?;
    let (addr, stop, task) = super::measure::bench_server(pool.clone(), master, epochs).await?;
    let url = format!("http://{addr}/graphql");
    let clients = 16;
    let http = reqwest::Client::builder()
        .pool_max_idle_per_host(clients)
        .build()?;
    let post = |http: reqwest::Client, url: String, token: Option<String>, body: Value| async move {
        let mut request = http.post(&url).json(&body);
        if let Some(token) = token {
            request = request.bearer_auth(token);
        }
        let answer: Value = request.send().await?.json().await?;
        anyhow::ensure!(answer["errors"].is_null(), "request failed: {answer}");
        anyhow::Ok(answer)
    };
    // The server's views start behind this ledger: sign in once they have the account.
    let login = json!({
        "query": "mutation($e: String!, $p: String!) { login(email: $e, password: $p) { token } }",
        "variables": {"e": "bench-admin@example.org", "p": PASSWORD}
    });
    let deadline = Instant::now() + Duration::from_secs(600);
    let token = loop {
        match post(http.clone(), url.clone(), None, login.clone()).await {
            Ok(answer) => break answer["data"]["login"]["token"].as_str().map(str::to_owned),
            Err(_) if Instant::now() < deadline => {
                tokio::time::sleep(Duration::from_millis(200)).await
            }
            Err(e) => return Err(e),
        }
    };
    let token = token.ok_or_else(|| anyhow::anyhow!("login gave no token"))?;

    let ask = |kind: u8| {
        let (http, url, token) = (http.clone(), url.clone(), token.clone());
        reads(clients, duration / 2, move |i| {
            let (http, url, token) = (http.clone(), url.clone(), token.clone());
            let seq = 1 + (i.wrapping_mul(2_654_435_761) % size as u64) as i64;
            let (token, body) = match kind {
                0 => (
                    None,
                    json!({
                        "query": "query($s: Long!, $n: Long!) { inclusionProof(seq: $s, treeSize: $n) { leafHash path } }",
                        "variables": {"s": seq, "n": size}
                    }),
                ),
                1 => (
                    None,
                    json!({
                        "query": "query($s: Long!, $n: Long!) { consistencyProof(fromSize: $s, toSize: $n) { path } }",
                        "variables": {"s": seq, "n": size}
                    }),
                ),
                _ => (Some(token), json!({"query": "{ ledgerHead { seq hash } }"})),
            };
            async move { post(http, url, token, body).await.map(drop) }
        })
    };
    let mut head_reads = ask(2).await?;
    let mut inclusion = ask(0).await?;
    let mut consistency = ask(1).await?;
    head_reads.merge(ask(2).await?);
    inclusion.merge(ask(0).await?);
    consistency.merge(ask(1).await?);
    let head_p99 = head_reads.latencies.percentile_ms(99.0);
    for (name, run) in [
        ("inclusion", &mut inclusion),
        ("consistency", &mut consistency),
    ] {
        let p99 = run.latencies.percentile_ms(99.0);
        println!(
            "  {name} proofs at {size} events / ledgerHead, through the API ({clients} clients): {:.2} per second [>= 0.50], p99 {:.2}× [<= 3] ({:.0}/s, p99 {p99:.2} ms vs {:.0}/s, {head_p99:.2} ms)",
            run.rate() / head_reads.rate(),
            p99 / head_p99,
            run.rate(),
            head_reads.rate(),
        );
    }
    let _ = stop.send(());
    let _ = task.await;
    Ok(())
}

/// `clients` tasks calling `read(i)` for `duration`.
async fn reads<F, Fut>(clients: usize, duration: Duration, read: F) -> anyhow::Result<Run>
where
    F: Fn(u64) -> Fut + Clone + Send + 'static,
    Fut: std::future::Future<Output = anyhow::Result<()>> + Send,
{
    let deadline = Instant::now() + duration;
    let started = Instant::now();
    let tasks: Vec<_> = (0..clients)
        .map(|c| {
            let read = read.clone();
            tokio::spawn(async move {
                let mut latencies = Latencies::default();
                let mut i = c as u64 * 1_000_003;
                while Instant::now() < deadline {
                    let t = Instant::now();
                    read(i).await?;
                    latencies.record(t.elapsed());
                    i += 1;
                }
                anyhow::Ok(latencies)
            })
        })
        .collect();
    let mut run = Run::empty();
    for task in tasks {
        let latencies = task.await??;
        run.events += latencies.count() as u64;
        run.latencies.extend(latencies);
    }
    run.elapsed = started.elapsed();
    Ok(run)
}

/// Nanoseconds per payload canonicalisation and per entry hash, measured alone.
fn bare_hashing_cost() -> (f64, f64) {
    const N: u32 = 50_000;
    let values: Vec<_> = (0..N).map(|i| payload(u64::from(i))).collect();
    let started = Instant::now();
    let payloads: Vec<CanonicalPayload> = values
        .iter()
        .map(|v| CanonicalPayload::from_value(v).expect("I-JSON"))
        .collect();
    let canon = started.elapsed();
    let stream = StreamName::new("bench", Uuid::new_v4()).expect("a valid stream");
    let at = Timestamp::from_datetime(chrono::Utc::now());
    let (mut prev, mut scratch) = (Hash::ZERO, Vec::new());
    let ids: Vec<Uuid> = (0..N).map(|_| Uuid::now_v7()).collect();
    let started = Instant::now();
    for (i, p) in payloads.iter().enumerate() {
        let seq = i as i64 + 1;
        let entry = Entry {
            seq,
            id: ids[i],
            stream: stream.as_str(),
            version: seq as i32,
            event_type: "BenchAppended",
            actor: None,
            at,
            payload: p,
            prev,
        };
        prev = entry.hash_with(&mut scratch);
    }
    let hash = started.elapsed();
    (
        canon.as_nanos() as f64 / f64::from(N),
        hash.as_nanos() as f64 / f64::from(N),
    )
}

fn payload(i: u64) -> serde_json::Value {
    json!({
        "record": Uuid::new_v4().to_string(),
        "size": i,
        "title": {"ct": "3q2+7wAAAAAAAAAAZm9vYmFyYmF6cXV4cXV1eHh5enp5cXV1eHh5enp5", "n": "AAAAAAAAAAAAAAAA"},
    })
}

fn event_type() -> EventType {
    EventType::parse("BenchAppended").expect("a valid event type")
}

/// Returns the run and the nanoseconds writers spent canonicalising payloads.
pub(super) async fn group_commit_run(
    store: &EventStore,
    writers: usize,
    duration: Duration,
) -> anyhow::Result<(Run, u64)> {
    let deadline = Instant::now() + duration;
    let started = Instant::now();
    let tasks: Vec<_> = (0..writers)
        .map(|_| {
            let store = store.clone();
            tokio::spawn(async move {
                let stream = StreamName::new("bench", Uuid::new_v4()).expect("a valid stream");
                let (mut version, mut latencies, mut canon) = (0, Latencies::default(), 0u64);
                while Instant::now() < deadline {
                    let (event_type, payload) = (event_type(), payload(version as u64));
                    let t = Instant::now();
                    let event = NewEvent::new(event_type, None, &payload)?;
                    canon += t.elapsed().as_nanos() as u64;
                    store
                        .append(&stream, ExpectedVersion::Exact(version), vec![event])
                        .await?;
                    latencies.record(t.elapsed());
                    version += 1;
                }
                anyhow::Ok((latencies, canon))
            })
        })
        .collect();
    let mut run = Run {
        events: 0,
        elapsed: Duration::ZERO,
        latencies: Latencies::default(),
    };
    let mut canon = 0;
    for task in tasks {
        let (latencies, c) = task.await??;
        run.events += latencies.count() as u64;
        run.latencies.extend(latencies);
        canon += c;
    }
    run.elapsed = started.elapsed();
    Ok((run, canon))
}

/// One transaction per append, as a plain implementation would do it: lock, read the
/// head, hash, insert one row, commit.
async fn one_txn_run(pool: &PgPool, writers: usize, duration: Duration) -> anyhow::Result<Run> {
    locked_inserts(pool, writers, 1, duration).await
}

/// The limit of the pattern: the same lock and head read, 100 rows a transaction.
async fn limit_run(pool: &PgPool, clients: usize, duration: Duration) -> anyhow::Result<Run> {
    locked_inserts(pool, clients, 100, duration).await
}

async fn fill(pool: &PgPool, events: i64) -> anyhow::Result<()> {
    let mut left = events;
    let stream = StreamName::new("bench", Uuid::new_v4())?;
    let mut version = 0;
    while left > 0 {
        let n = left.min(1000) as usize;
        append_locked(pool, &stream, version, n).await?;
        version += n as i32;
        left -= n as i64;
    }
    Ok(())
}

async fn locked_inserts(
    pool: &PgPool,
    clients: usize,
    rows: usize,
    duration: Duration,
) -> anyhow::Result<Run> {
    let deadline = Instant::now() + duration;
    let started = Instant::now();
    let tasks: Vec<_> = (0..clients)
        .map(|_| {
            let pool = pool.clone();
            tokio::spawn(async move {
                let stream = StreamName::new("bench", Uuid::new_v4())?;
                let (mut version, mut latencies) = (0, Latencies::default());
                while Instant::now() < deadline {
                    let t = Instant::now();
                    append_locked(&pool, &stream, version, rows).await?;
                    latencies.record(t.elapsed());
                    version += rows as i32;
                }
                anyhow::Ok(latencies)
            })
        })
        .collect();
    let mut run = Run::empty();
    for task in tasks {
        let latencies = task.await??;
        run.events += (latencies.count() * rows) as u64;
        run.latencies.extend(latencies);
    }
    run.elapsed = started.elapsed();
    Ok(run)
}

/// One transaction: lock, head, `rows` hashed entries in one INSERT, commit.
async fn append_locked(
    pool: &PgPool,
    stream: &StreamName,
    version: i32,
    rows: usize,
) -> anyhow::Result<()> {
    let mut tx = pool.begin().await?;
    sqlx::query("SELECT pg_advisory_xact_lock($1)")
        .bind(LEDGER_LOCK_KEY)
        .execute(&mut *tx)
        .await?;
    let head: Option<(i64, Vec<u8>)> =
        sqlx::query_as("SELECT seq, hash FROM events ORDER BY seq DESC LIMIT 1")
            .fetch_optional(&mut *tx)
            .await?;
    let (mut seq, mut prev) = match head {
        Some((seq, hash)) => (seq, Hash::from_slice(&hash)?),
        None => (0, Hash::ZERO),
    };
    let at = Timestamp::from_datetime(chrono::Utc::now());
    let mut cols = (vec![], vec![], vec![], vec![], vec![], vec![], vec![]);
    let mut scratch = Vec::new();
    for i in 0..rows {
        seq += 1;
        let payload = CanonicalPayload::from_value(&payload(i as u64))?;
        let id = Uuid::now_v7();
        let v = version + i as i32 + 1;
        let entry = Entry {
            seq,
            id,
            stream: stream.as_str(),
            version: v,
            event_type: "BenchAppended",
            actor: None,
            at,
            payload: &payload,
            prev,
        };
        let hash = entry.hash_with(&mut scratch);
        cols.0.push(seq);
        cols.1.push(id);
        cols.2.push(v);
        cols.3.push(payload.into_string());
        cols.4.push(prev.as_bytes().to_vec());
        cols.5.push(hash.as_bytes().to_vec());
        cols.6.push(at.to_datetime());
        prev = hash;
    }
    sqlx::query(
        "INSERT INTO events (seq, id, stream, version, type, actor, recorded_at, payload, prev_hash, hash) \
         SELECT s, i, $3, v, 'BenchAppended', NULL, a, p::json, ph, h \
         FROM unnest($1::bigint[], $2::uuid[], $4::int[], $5::text[], $6::bytea[], $7::bytea[], $8::timestamptz[]) AS t(s, i, v, p, ph, h, a)",
    )
    .bind(&cols.0)
    .bind(&cols.1)
    .bind(stream.as_str())
    .bind(&cols.2)
    .bind(&cols.3)
    .bind(&cols.4)
    .bind(&cols.5)
    .bind(&cols.6)
    .execute(&mut *tx)
    .await?;
    tx.commit().await?;
    Ok(())
}
