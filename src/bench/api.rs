//! `medchain bench api`: the API's own cost, measured against what it stands on, in one
//! run on this machine.
//!
//! - `me` at 64 concurrent clients (requests/s, p99) through the real server (session
//!   lookup, users view, subject key, opening the sealed fields), beside a bare
//!   async-graphql query with no database served by axum in the same process and driven
//!   by the same client. Target: `me` ≥ 30% of the bare rate.
//! - Login throughput (each login is one Argon2id verification, the ledger append, the
//!   session row) beside the bare Argon2id verification rate of this machine, both with
//!   twice as many concurrent callers as there are cores (one per core left the bare
//!   rate about 10% short of what the machine does). Target: ≥ 80%.
//! - Where a request's time goes: `{ __typename }` on the real server, anonymous (HTTP
//!   and GraphQL alone) and signed in (plus the session lookup).

use super::measure::Latencies;
use crate::cli::Common;
use async_graphql::{EmptyMutation, EmptySubscription, Object, Schema};
use commands::{keys::MasterKey, password_hasher::PasswordHasher};
use serde_json::{Value, json};
use std::{
    net::SocketAddr,
    time::{Duration, Instant},
};
use tokio::{net::TcpListener, sync::oneshot};

const PASSWORD: &str = "a long bench passphrase, 2026";

pub async fn run(common: &Common, seconds: u64, clients: usize) -> anyhow::Result<()> {
    super::measure::in_scratch_database(common, |url| async move {
        bench_in(&url, Duration::from_secs(seconds), clients).await
    })
    .await
}

async fn bench_in(url: &str, duration: Duration, clients: usize) -> anyhow::Result<()> {
    use std::str::FromStr as _;
    let options = sqlx::postgres::PgConnectOptions::from_str(url)?;
    let pool = commands::db::pool_options(crate::server::pool_size())
        .connect_with(options)
        .await?;
    commands::db::MIGRATOR.run(&pool).await?;

    let epochs_dir = tempfile::tempdir()?;
    let (server, stop, task) = super::measure::bench_server(
        pool.clone(),
        MasterKey::generate(),
        commands::keys::EpochStore::directory(epochs_dir.path()),
    )
    .await?;
    let (bare, _bare_stop) = spawn_bare().await?;
    let http = reqwest::Client::builder()
        .pool_max_idle_per_host(clients)
        .build()?;

    let cores = std::thread::available_parallelism().map_or(2, |n| n.get());
    eprintln!(
        "measuring for {} s each ({clients} clients for `me`, {} for logins; {} database connections)",
        duration.as_secs(),
        2 * cores,
        crate::server::pool_size()
    );
    // Enough accounts that no one account's login limit or row is the bottleneck.
    let emails: Vec<String> = (0..cores * 4)
        .map(|i| format!("bench{i}@example.org"))
        .collect();
    for email in &emails {
        let r = call(&http, server, None, json!({
            "query": "mutation($i: RegisterInput!) { register(input: $i) { id } }",
            "variables": {"i": {"email": email, "password": PASSWORD, "name": "Pat Example", "role": "PATIENT"}}
        })).await?;
        anyhow::ensure!(r["errors"].is_null(), "register failed: {r}");
    }
    // One session per client, as 64 people signed in would have: each request's session
    // lookup is its own.
    let mut tokens = Vec::with_capacity(clients);
    for i in 0..clients {
        tokens.push(login(&http, server, &emails[i % emails.len()]).await?);
    }

    let me = json!({"query": "{ me { id name email } }"});
    let hello = json!({"query": "{ hello }"});
    // Alternating halves, so both see the same background.
    let half = duration / 2;
    let mut me_run = load(&http, server, &tokens, &me, clients, half).await?;
    let mut bare_run = load(&http, bare, &[], &hello, clients, half).await?;
    me_run.merge(load(&http, server, &tokens, &me, clients, half).await?);
    bare_run.merge(load(&http, bare, &[], &hello, clients, half).await?);
    let typename = json!({"query": "{ __typename }"});
    let mut anon_run = load(&http, server, &[], &typename, clients, half).await?;
    let mut auth_run = load(&http, server, &tokens, &typename, clients, half).await?;

    // Twice as many callers as cores on both sides: one login's database round trips
    // overlap another's hashing, as on a busy server, and the bare rate is the machine's
    // whole (with one caller per core, hand-offs left a core idle a tenth of the time).
    // Alternating quarters here: a neighbour's burst on a shared machine then weighs on
    // both sides of the ratio alike.
    let quarter = duration / 4;
    let mut logins = Run::default();
    let mut hashes = 0.0;
    for _ in 0..4 {
        logins.merge(login_load(&http, server, &emails, 2 * cores, quarter).await?);
        hashes += argon2_rate(2 * cores, quarter).await? / 4.0;
    }

    println!(
        "{:<44} {:>12} {:>10} {:>10}",
        "", "per second", "p50 ms", "p99 ms"
    );
    for (label, run) in [
        ("me (real server, 64 clients)", &mut me_run),
        ("bare async-graphql, no database", &mut bare_run),
        ("real server, { __typename }, anonymous", &mut anon_run),
        ("real server, { __typename }, signed in", &mut auth_run),
        ("login", &mut logins.clone()),
    ] {
        println!(
            "{label:<44} {:>12.0} {:>10.2} {:>10.2}",
            run.rate(),
            run.latencies.percentile_ms(50.0),
            run.latencies.percentile_ms(99.0)
        );
    }
    println!(
        "{:<44} {:>12.1}",
        "bare Argon2id verifications (OWASP)", hashes
    );
    println!();
    println!("ratios (targets in brackets):");
    println!(
        "  me / bare async-graphql:      {:.2}  [>= 0.30]",
        me_run.rate() / bare_run.rate()
    );
    println!(
        "  logins / bare Argon2id rate:  {:.2}  [>= 0.80]",
        logins.rate() / hashes
    );
    let _ = stop.send(());
    // The server's tasks (projectors, listener) end with it; only then the pool.
    let _ = task.await;
    pool.close().await;
    Ok(())
}

#[derive(Default)]
struct Run {
    requests: u64,
    elapsed: Duration,
    latencies: Latencies,
}

impl Clone for Run {
    fn clone(&self) -> Self {
        Self {
            requests: self.requests,
            elapsed: self.elapsed,
            latencies: self.latencies.clone(),
        }
    }
}

impl Run {
    fn merge(&mut self, other: Run) {
        self.requests += other.requests;
        self.elapsed += other.elapsed;
        self.latencies.extend(other.latencies);
    }

    fn rate(&self) -> f64 {
        self.requests as f64 / self.elapsed.as_secs_f64()
    }
}

async fn call(
    http: &reqwest::Client,
    addr: SocketAddr,
    token: Option<&str>,
    body: Value,
) -> anyhow::Result<Value> {
    let mut request = http.post(format!("http://{addr}/graphql")).json(&body);
    if let Some(token) = token {
        request = request.bearer_auth(token);
    }
    Ok(request.send().await?.json().await?)
}

async fn login(http: &reqwest::Client, addr: SocketAddr, email: &str) -> anyhow::Result<String> {
    let r = call(http, addr, None, json!({
        "query": "mutation($e: String!, $p: String!) { login(email: $e, password: $p) { token } }",
        "variables": {"e": email, "p": PASSWORD}
    }))
    .await?;
    r["data"]["login"]["token"]
        .as_str()
        .map(str::to_owned)
        .ok_or_else(|| anyhow::anyhow!("login failed: {r}"))
}

/// `clients` loops, each sending `body` and waiting for its answer, for `duration`; the
/// `i`th with `tokens[i]` (anonymous when `tokens` is empty).
async fn load(
    http: &reqwest::Client,
    addr: SocketAddr,
    tokens: &[String],
    body: &Value,
    clients: usize,
    duration: Duration,
) -> anyhow::Result<Run> {
    let started = Instant::now();
    let deadline = started + duration;
    let tasks: Vec<_> = (0..clients)
        .map(|i| {
            let (http, body) = (http.clone(), body.clone());
            let token = (!tokens.is_empty()).then(|| tokens[i % tokens.len()].clone());
            tokio::spawn(async move {
                let mut latencies = Latencies::default();
                while Instant::now() < deadline {
                    let t = Instant::now();
                    let r = call(&http, addr, token.as_deref(), body.clone()).await?;
                    anyhow::ensure!(r["errors"].is_null(), "request failed: {r}");
                    latencies.record(t.elapsed());
                }
                anyhow::Ok(latencies)
            })
        })
        .collect();
    let mut run = Run::default();
    for task in tasks {
        let latencies = task.await??;
        run.requests += latencies.count() as u64;
        run.latencies.extend(latencies);
    }
    run.elapsed = started.elapsed();
    Ok(run)
}

async fn login_load(
    http: &reqwest::Client,
    addr: SocketAddr,
    emails: &[String],
    clients: usize,
    duration: Duration,
) -> anyhow::Result<Run> {
    let started = Instant::now();
    let deadline = started + duration;
    let tasks: Vec<_> = (0..clients)
        .map(|c| {
            let http = http.clone();
            let mine: Vec<String> = emails.iter().skip(c).step_by(clients).cloned().collect();
            tokio::spawn(async move {
                let mut latencies = Latencies::default();
                let mut i = 0;
                while Instant::now() < deadline {
                    let t = Instant::now();
                    login(&http, addr, &mine[i % mine.len()]).await?;
                    latencies.record(t.elapsed());
                    i += 1;
                }
                anyhow::Ok(latencies)
            })
        })
        .collect();
    let mut run = Run::default();
    for task in tasks {
        let latencies = task.await??;
        run.requests += latencies.count() as u64;
        run.latencies.extend(latencies);
    }
    run.elapsed = started.elapsed();
    Ok(run)
}

/// Argon2id verifications per second with `callers` concurrent callers, through the same
/// hasher the server uses (its own threads, one per core), with nothing else around it.
async fn argon2_rate(callers: usize, duration: Duration) -> anyhow::Result<f64> {
    let hasher = PasswordHasher::new()?;
    let phc = hasher.hash(PASSWORD).await?;
    let started = Instant::now();
    let deadline = started + duration;
    let tasks: Vec<_> = (0..callers)
        .map(|_| {
            let (hasher, phc) = (hasher.clone(), phc.clone());
            tokio::spawn(async move {
                let mut n = 0u64;
                while Instant::now() < deadline {
                    assert!(hasher.verify(PASSWORD, Some(&phc)).await.unwrap());
                    n += 1;
                }
                n
            })
        })
        .collect();
    let mut total = 0;
    for task in tasks {
        total += task.await?;
    }
    Ok(total as f64 / started.elapsed().as_secs_f64())
}

struct Hello;

#[Object]
impl Hello {
    async fn hello(&self) -> &'static str {
        "world"
    }
}

/// A bare async-graphql server: one field, no database, the same axum.
async fn spawn_bare() -> anyhow::Result<(SocketAddr, oneshot::Sender<()>)> {
    let schema = Schema::new(Hello, EmptyMutation, EmptySubscription);
    let app = axum::Router::new().route(
        "/graphql",
        axum::routing::post_service(async_graphql_axum::GraphQL::new(schema)),
    );
    let listener = TcpListener::bind("127.0.0.1:0").await?;
    let addr = listener.local_addr()?;
    let (stop, stopped) = oneshot::channel::<()>();
    tokio::spawn(async move {
        axum::serve(listener, app)
            .with_graceful_shutdown(async {
                let _ = stopped.await;
            })
            .await
    });
    Ok((addr, stop))
}
