//! `medchain bench keys`: the key rotation of DESIGN.md §11 at scale, in one run on this
//! machine. A fresh database gets 1 000 000 data keys (`--keys`) from before key epochs,
//! written in bulk; their move into epoch 1 is timed (the first start's migration), then
//! a rotation to epoch 2 (keys/s), while a patient downloads records through the real
//! server; the downloads' p99 during the rotation is printed beside their p99 with no
//! rotation, measured in the same run. Target: at most 2×.

use super::measure::Latencies;
use crate::cli::Common;
use commands::{
    EventStore, Kernel, SystemClock,
    accounts::{Accounts, RegisterRequest, SessionPolicy},
    key_epochs::KeyEpochs,
    keys::{EpochStore, KeyRing, MasterKey},
    password_hasher::PasswordHasher,
};
use serde_json::{Value, json};
use std::{
    sync::{
        Arc,
        atomic::{AtomicBool, Ordering},
    },
    time::{Duration, Instant},
};

const PASSWORD: &str = "a long bench passphrase, 2026";
const DOWNLOADERS: usize = 4;
const RECORDS: usize = 16;

pub async fn run(common: &Common, keys: u64) -> anyhow::Result<()> {
    super::measure::in_scratch_database(common, |url| async move { bench_in(&url, keys).await })
        .await
}

async fn bench_in(url: &str, count: u64) -> anyhow::Result<()> {
    let pool = commands::db::connect_and_migrate(url, 16).await?;
    let master: [u8; 32] = rand_bytes();
    let epochs_dir = tempfile::tempdir()?;
    let epochs = EpochStore::directory(epochs_dir.path());
    let keys = KeyRing::new(&MasterKey::from_bytes(master), epochs.clone());
    let clock = Arc::new(SystemClock);
    let store = EventStore::start(pool.clone(), clock.clone());
    let kernel = Kernel::new(store, keys.clone());
    let service = KeyEpochs::new(
        kernel.clone(),
        keys.clone(),
        clock.clone(),
        Duration::from_secs(24 * 3600),
    );

    // Keys from before key epochs, in bulk: a record's row then holds its owner's wrap
    // (60 bytes), which a rotation wraps again without opening.
    let filled = Instant::now();
    let owner = uuid::Uuid::new_v4();
    let mut left = count;
    while left > 0 {
        let n = left.min(100_000);
        sqlx::query(
            "INSERT INTO record_keys (record_id, owner_id, wrapped) \
             SELECT gen_random_uuid(), $1, decode(substr(md5(random()::text) || \
                 md5(random()::text) || md5(random()::text) || md5(random()::text), 1, 120), 'hex') \
             FROM generate_series(1, $2)",
        )
        .bind(owner)
        .bind(n as i64)
        .execute(&pool)
        .await?;
        left -= n;
    }
    println!(
        "{count} data keys from before key epochs written in {:.1} s",
        filled.elapsed().as_secs_f64()
    );
    let moved = Instant::now();
    let first = service
        .resume()
        .await?
        .ok_or_else(|| anyhow::anyhow!("another process holds the rotation"))?;
    let took = moved.elapsed();
    println!(
        "moved into epoch 1 (the first start): {} keys in {:.1} s, {:.0} keys/s",
        first.keys_moved,
        took.as_secs_f64(),
        first.keys_moved as f64 / took.as_secs_f64()
    );

    // A patient with records, downloading through the real server.
    Accounts::new(
        kernel.clone(),
        keys.clone(),
        PasswordHasher::new()?,
        clock.clone(),
        SessionPolicy::default(),
    )
    .register(RegisterRequest {
        email: "bench-patient@example.org".to_owned(),
        password: PASSWORD.to_owned(),
        name: "Robin Moss".to_owned(),
        role: domain::account::Role::Patient,
        phone: None,
        via: domain::account::user::Registration::Cli,
        address: None,
    })
    .await
    .map_err(|e| anyhow::anyhow!("{e}"))?;
    let (addr, stop, task) =
        super::measure::bench_server(pool.clone(), MasterKey::from_bytes(master), epochs).await?;
    let http = reqwest::Client::new();
    let token = login(&http, &addr.to_string()).await?;
    let mut ids = Vec::new();
    for i in 0..RECORDS {
        let mut bytes = b"%PDF-1.7\n".to_vec();
        bytes.resize(256 * 1024, b'a' + (i % 26) as u8);
        let form = reqwest::multipart::Form::new()
            .text("title", format!("Scan {i}"))
            .part(
                "file",
                reqwest::multipart::Part::bytes(bytes).file_name("scan.pdf"),
            );
        let answer: Value = http
            .post(format!("http://{addr}/api/records"))
            .bearer_auth(&token)
            .multipart(form)
            .send()
            .await?
            .json()
            .await?;
        ids.push(
            answer["id"]
                .as_str()
                .ok_or_else(|| anyhow::anyhow!("upload: {answer}"))?
                .to_owned(),
        );
    }
    let downloads = Downloads {
        http,
        base: format!("http://{addr}"),
        token,
        ids: Arc::new(ids),
    };

    let idle = downloads.run_for(Duration::from_secs(8)).await?;
    let finished = Arc::new(AtomicBool::new(false));
    let rotating = {
        let (service, finished) = (service.clone(), finished.clone());
        tokio::spawn(async move {
            let started = Instant::now();
            let done = service.rotate().await.map(|done| (done, started.elapsed()));
            finished.store(true, Ordering::SeqCst);
            done
        })
    };
    let during = downloads
        .run_while(move || finished.load(Ordering::SeqCst))
        .await?;
    let (second, took) = rotating.await??;
    let _ = stop.send(());
    let _ = task.await;

    let (mut idle, mut during) = (idle, during);
    println!(
        "rotation to epoch {}: {} keys in {:.1} s, {:.0} keys/s",
        second.current,
        second.keys_moved,
        took.as_secs_f64(),
        second.keys_moved as f64 / took.as_secs_f64()
    );
    let (idle_p99, during_p99) = (idle.percentile_ms(99.0), during.percentile_ms(99.0));
    println!(
        "downloads of 256 KiB, {DOWNLOADERS} at a time: no rotation {} downloads, p50 {:.2} ms, p99 {:.2} ms; \
         during the rotation {} downloads, p50 {:.2} ms, p99 {:.2} ms",
        idle.count(),
        idle.percentile_ms(50.0),
        idle_p99,
        during.count(),
        during.percentile_ms(50.0),
        during_p99
    );
    println!(
        "ratio: download p99 during a rotation / without = {:.2}× [target <= 2×]",
        during_p99 / idle_p99
    );
    Ok(())
}

fn rand_bytes() -> [u8; 32] {
    let mut out = [0u8; 32];
    for (i, b) in out.iter_mut().enumerate() {
        *b = uuid::Uuid::new_v4().as_bytes()[i % 16];
    }
    out
}

async fn login(http: &reqwest::Client, addr: &str) -> anyhow::Result<String> {
    let deadline = Instant::now() + Duration::from_secs(120);
    loop {
        let answer: Value = http
            .post(format!("http://{addr}/graphql"))
            .json(&json!({
                "query": "mutation($e: String!, $p: String!) { login(email: $e, password: $p) { token } }",
                "variables": {"e": "bench-patient@example.org", "p": PASSWORD}
            }))
            .send()
            .await?
            .json()
            .await?;
        if let Some(token) = answer["data"]["login"]["token"].as_str() {
            return Ok(token.to_owned());
        }
        // The users view follows the ledger a moment behind.
        anyhow::ensure!(Instant::now() < deadline, "login: {answer}");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

#[derive(Clone)]
struct Downloads {
    http: reqwest::Client,
    base: String,
    token: String,
    ids: Arc<Vec<String>>,
}

impl Downloads {
    async fn one(&self, i: usize) -> anyhow::Result<Duration> {
        let id = &self.ids[i % self.ids.len()];
        let started = Instant::now();
        let response = self
            .http
            .get(format!("{}/api/records/{id}/content", self.base))
            .bearer_auth(&self.token)
            .send()
            .await?;
        anyhow::ensure!(response.status() == 200, "download: {}", response.status());
        response.bytes().await?;
        Ok(started.elapsed())
    }

    /// `DOWNLOADERS` loops until `done` says stop; every download must succeed.
    async fn run_while(
        &self,
        done: impl Fn() -> bool + Send + Sync + Clone + 'static,
    ) -> anyhow::Result<Latencies> {
        let mut loops = Vec::new();
        for d in 0..DOWNLOADERS {
            let (this, done) = (self.clone(), done.clone());
            loops.push(tokio::spawn(async move {
                let mut latencies = Latencies::default();
                let mut i = d;
                while !done() {
                    latencies.record(this.one(i).await?);
                    i += DOWNLOADERS;
                }
                anyhow::Ok(latencies)
            }));
        }
        let mut all = Latencies::default();
        for l in loops {
            all.extend(l.await??);
        }
        Ok(all)
    }

    async fn run_for(&self, duration: Duration) -> anyhow::Result<Latencies> {
        let until = Instant::now() + duration;
        self.run_while(move || Instant::now() >= until).await
    }
}
