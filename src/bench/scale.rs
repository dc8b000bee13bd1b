//! `medchain bench scale`: 1, 2 and 4 `medchain serve` child processes on one database
//! (a fresh scratch database for each round, on the embedded cluster or
//! `DATABASE_URL`), the same mixed load spread over them by the same clients: `me`,
//! uploads of small files, downloads, shares, notifications and record lists, and
//! logins. Each round prints requests/s and p99 per process and in total, the events
//! appended, and the requests per CPU-second of the server processes and PostgreSQL
//! together; then proves nothing was lost or doubled: every acknowledged upload is on
//! the ledger exactly once, `ledger verify` passes, `projections check` agrees.
//!
//! On a machine of two cores more processes cannot add throughput; what they must not do
//! is cost more per request or slow the slowest. Targets: requests per CPU-second with 2
//! and 4 processes ≥ 0.8× that of one, p99 with 4 ≤ 1.5× that of one.
//!
//! PostgreSQL's CPU is that of every `postgres` process on this machine (the embedded
//! cluster's, or a local `DATABASE_URL`'s); a remote database's is not seen, and the
//! ratio then counts the servers alone.

use super::measure::{Latencies, process_cpu_of};
use super::people::{admin_and_doctor, login, patient_client, register};
use super::records::{Child_, gql, serve};
use crate::cli::Common;
use serde_json::{Value, json};
use std::collections::HashSet;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// Concurrent clients, the same in every round.
const CLIENTS: usize = 32;
/// The mix, one cycle of 50 requests per client.
const CYCLE: usize = 50;

pub async fn run(common: &Common, seconds: u64, processes: Vec<usize>) -> anyhow::Result<()> {
    println!(
        "{CLIENTS} clients, {seconds} s a round, the mix of every 50 requests: 20 me, 8 uploads \
         (4 KiB), 10 downloads, 6 notifications, 3 record lists, 2 shares, 1 login"
    );
    let mut rounds = Vec::new();
    for n in processes {
        let round = Arc::new(Mutex::new(None));
        let into = round.clone();
        super::measure::in_scratch_database(common, |url| async move {
            let measured = round_of(&url, n, Duration::from_secs(seconds)).await?;
            *into.lock().expect("one writer") = Some(measured);
            Ok(())
        })
        .await?;
        let measured = round.lock().expect("one writer").take();
        rounds.extend(measured);
    }
    let Some(one) = rounds.iter().find(|r| r.processes == 1) else {
        return Ok(());
    };
    for r in rounds.iter().filter(|r| r.processes > 1) {
        println!(
            "{} processes: requests per CPU-second {:.2}x that of one (target >= 0.8); p99 {:.2}x (target for 4: <= 1.5)",
            r.processes,
            r.per_cpu_second / one.per_cpu_second,
            r.p99_ms / one.p99_ms,
        );
    }
    Ok(())
}

struct Round {
    processes: usize,
    per_cpu_second: f64,
    p99_ms: f64,
}

/// What one client saw, per process.
#[derive(Default)]
struct Seen {
    latencies: Vec<Latencies>,
    refused: usize,
    /// (patient, record) of every acknowledged upload.
    uploads: Vec<String>,
}

struct Patient {
    client: reqwest::Client,
    email: String,
    token: String,
    /// The newest record, for downloads and shares.
    record: String,
}

async fn round_of(url: &str, n: usize, duration: Duration) -> anyhow::Result<Round> {
    let dir = tempfile::tempdir()?;
    let key = super::people::master_key_file(dir.path(), 31)?;
    let mut children: Vec<Child_> = Vec::new();
    let mut addrs = Vec::new();
    for i in 0..n {
        let (child, addr) = serve(url, &key, &dir.path().join(format!("p{i}")))?;
        children.push(child);
        addrs.push(addr);
    }
    let client = reqwest::Client::new();
    let (_doctor, doctor_id) = admin_and_doctor(&client, url, &key, dir.path(), &addrs[0]).await?;
    let mut patients = Vec::new();
    for i in 0..CLIENTS {
        let client = patient_client(i)?;
        let email = format!("s{i}@example.org");
        let addr = &addrs[i % n];
        register(
            &client,
            addr,
            &email,
            &format!("Scale Patient {i}"),
            "PATIENT",
        )
        .await?;
        let (token, _) = login(&client, addr, &email).await?;
        let record = upload(&client, addr, &token, i)
            .await?
            .ok_or_else(|| anyhow::anyhow!("the first upload was refused"))?;
        patients.push(Patient {
            client,
            email,
            token,
            record,
        });
    }
    let pool = sqlx::PgPool::connect(url).await?;
    let head = || async {
        sqlx::query_scalar::<_, Option<i64>>("SELECT max(seq) FROM events")
            .fetch_one(&pool)
            .await
            .map(Option::unwrap_or_default)
    };
    let pids: Vec<u32> = children.iter().map(|c| c.0.id()).collect();
    let servers_cpu = || {
        pids.iter()
            .filter_map(|&p| process_cpu_of(p))
            .sum::<Duration>()
    };
    let transactions = || async {
        sqlx::query_scalar::<_, i64>(
            "SELECT (xact_commit + xact_rollback)::bigint FROM pg_stat_database \
             WHERE datname = current_database()",
        )
        .fetch_one(&pool)
        .await
    };
    let (events_before, server_before, pg_before) = (head().await?, servers_cpu(), postgres_cpu());
    let transactions_before = transactions().await?;

    let started = Instant::now();
    let addrs = Arc::new(addrs);
    let doctor_id = Arc::new(doctor_id);
    let mut tasks = Vec::new();
    for (i, patient) in patients.into_iter().enumerate() {
        let (addrs, doctor_id) = (addrs.clone(), doctor_id.clone());
        tasks.push(tokio::spawn(async move {
            drive(i, patient, &addrs, &doctor_id, started, duration).await
        }));
    }
    let mut seen = Seen {
        latencies: vec![Latencies::default(); n],
        ..Seen::default()
    };
    for task in tasks {
        let one = task.await??;
        for (all, mine) in seen.latencies.iter_mut().zip(one.latencies) {
            all.extend(mine);
        }
        seen.refused += one.refused;
        seen.uploads.extend(one.uploads);
    }
    let took = started.elapsed().as_secs_f64();
    let server_cpu = (servers_cpu() - server_before).as_secs_f64();
    let pg_cpu = (postgres_cpu() - pg_before).as_secs_f64();
    let events = head().await? - events_before;
    // PostgreSQL's statistics lag by up to a second (`pg_stat_database` is flushed at
    // most that often): wait it out before reading the count.
    tokio::time::sleep(Duration::from_millis(1_100)).await;
    let transactions = transactions().await? - transactions_before;

    println!("\n{n} process(es):");
    let mut total = Latencies::default();
    for (i, latencies) in seen.latencies.iter_mut().enumerate() {
        println!(
            "  process {i}: {:>7.0} requests/s, p99 {:>6.1} ms",
            latencies.count() as f64 / took,
            latencies.percentile_ms(99.0)
        );
        total.extend(latencies.clone());
    }
    let requests = total.count() as f64;
    let p99_ms = total.percentile_ms(99.0);
    let per_cpu_second = requests / (server_cpu + pg_cpu);
    println!(
        "  total:     {:>7.0} requests/s, p99 {p99_ms:>6.1} ms, {} refused; {events} events appended ({:.0}/s)",
        requests / took,
        seen.refused,
        events as f64 / took
    );
    println!(
        "  CPU: servers {server_cpu:.1} s, PostgreSQL {pg_cpu:.1} s over {took:.1} s: {per_cpu_second:.0} requests per CPU-second; {:.1} database transactions a request",
        transactions as f64 / requests
    );
    check_nothing_lost(url, &pool, &key, dir.path(), &seen.uploads).await?;
    let (ledger_bytes, views_bytes, stored): (i64, i64, i64) = sqlx::query_as(
        "SELECT pg_total_relation_size('events'), \
                (SELECT sum(pg_total_relation_size(c.oid))::bigint FROM pg_class c \
                   JOIN pg_namespace n ON n.oid = c.relnamespace \
                  WHERE n.nspname = 'public' AND c.relkind = 'r' AND c.relname <> 'events'), \
                (SELECT count(*) FROM events)",
    )
    .fetch_one(&pool)
    .await?;
    println!(
        "  on disk: the ledger {:.0} bytes an event (indexes included), everything else {:.0} bytes an event",
        ledger_bytes as f64 / stored as f64,
        views_bytes as f64 / stored as f64
    );
    pool.close().await;
    drop(children);
    Ok(Round {
        processes: n,
        per_cpu_second,
        p99_ms,
    })
}

/// One client's loop: its requests go to each process in turn.
async fn drive(
    i: usize,
    mut patient: Patient,
    addrs: &[String],
    doctor_id: &str,
    started: Instant,
    duration: Duration,
) -> anyhow::Result<Seen> {
    let mut seen = Seen {
        latencies: vec![Latencies::default(); addrs.len()],
        ..Seen::default()
    };
    let mut k = i;
    while started.elapsed() < duration {
        k += 1;
        let which = k % addrs.len();
        let addr = &addrs[which];
        let sent = Instant::now();
        let ok = match k % CYCLE {
            0..20 => query(&patient, addr, "{ me { id name email } }").await?,
            20..28 => match upload(&patient.client, addr, &patient.token, k).await? {
                Some(record) => {
                    seen.uploads.push(record.clone());
                    patient.record = record;
                    true
                }
                None => false,
            },
            28..38 => download(&patient, addr).await?,
            38..44 => {
                query(
                    &patient,
                    addr,
                    "{ notifications(first: 20) { edges { node { kind } } } }",
                )
                .await?
            }
            44..47 => {
                query(
                    &patient,
                    addr,
                    "{ myRecords(first: 20) { edges { node { id title } } } }",
                )
                .await?
            }
            47..49 => {
                let shared = gql(
                    &patient.client,
                    addr,
                    Some(&patient.token),
                    "mutation($r: UUID!, $d: UUID!) { shareRecord(recordId: $r, doctorId: $d) { id } }",
                    json!({"r": patient.record, "d": doctor_id}),
                )
                .await;
                // Sharing a record already shared is refused (CONFLICT): still a request
                // served, and the same in every round.
                shared.is_ok() || shared.is_err_and(|e| e.to_string().contains("CONFLICT"))
            }
            _ => match login(&patient.client, addr, &patient.email).await {
                Ok((token, _)) if !token.is_empty() => {
                    patient.token = token;
                    true
                }
                _ => false,
            },
        };
        if ok {
            seen.latencies[which].record(sent.elapsed());
        } else {
            seen.refused += 1;
        }
    }
    Ok(seen)
}

async fn query(patient: &Patient, addr: &str, query: &str) -> anyhow::Result<bool> {
    let answer: Value = patient
        .client
        .post(format!("http://{addr}/graphql"))
        .bearer_auth(&patient.token)
        .json(&json!({"query": query}))
        .send()
        .await?
        .json()
        .await?;
    Ok(answer["errors"].is_null())
}

/// A 4 KiB upload; the record's id when acknowledged.
async fn upload(
    client: &reqwest::Client,
    addr: &str,
    token: &str,
    n: usize,
) -> anyhow::Result<Option<String>> {
    let mut bytes = format!("%PDF-1.7\nscale {n}\n").into_bytes();
    bytes.resize(4096, b'.');
    let form = reqwest::multipart::Form::new()
        .text("title", format!("Result {n}"))
        .part(
            "file",
            reqwest::multipart::Part::bytes(bytes).file_name("result.pdf"),
        );
    let response = client
        .post(format!("http://{addr}/api/records"))
        .bearer_auth(token)
        .multipart(form)
        .send()
        .await?;
    if response.status() != 201 {
        return Ok(None);
    }
    let body: Value = response.json().await?;
    Ok(body["id"].as_str().map(str::to_owned))
}

async fn download(patient: &Patient, addr: &str) -> anyhow::Result<bool> {
    let response = patient
        .client
        .get(format!(
            "http://{addr}/api/records/{}/content",
            patient.record
        ))
        .bearer_auth(&patient.token)
        .send()
        .await?;
    let ok = response.status().is_success();
    response.bytes().await?;
    Ok(ok)
}

/// Every acknowledged upload on the ledger exactly once, the chain sound, the views
/// what the ledger says.
async fn check_nothing_lost(
    url: &str,
    pool: &sqlx::PgPool,
    key: &std::path::Path,
    dir: &std::path::Path,
    uploads: &[String],
) -> anyhow::Result<()> {
    let counted: Vec<(String, i64)> = sqlx::query_as(
        "SELECT stream, count(*) FROM events WHERE type = 'RecordUploaded' GROUP BY stream",
    )
    .fetch_all(pool)
    .await?;
    let doubled = counted.iter().filter(|(_, n)| *n != 1).count();
    let on_ledger: HashSet<&str> = counted.iter().map(|(s, _)| s.as_str()).collect();
    let missing = uploads
        .iter()
        .filter(|id| !on_ledger.contains(format!("record-{id}").as_str()))
        .count();
    let distinct: HashSet<&String> = uploads.iter().collect();
    anyhow::ensure!(
        doubled == 0 && missing == 0 && distinct.len() == uploads.len(),
        "{missing} acknowledged uploads missing, {doubled} doubled"
    );
    let mut said = Vec::new();
    for args in [["ledger", "verify"], ["projections", "check"]] {
        let out = tokio::process::Command::new(std::env::current_exe()?)
            .args(args)
            .arg("--data-dir")
            .arg(dir.join("cli"))
            .env("DATABASE_URL", url)
            .env("MEDCHAIN_MASTER_KEY_FILE", key)
            .env("MEDCHAIN_KEY_EPOCH_STORE", dir.join("key-epochs"))
            .env("RUST_LOG", "warn")
            .output()
            .await?;
        let text = String::from_utf8_lossy(&out.stdout).trim().to_owned();
        anyhow::ensure!(
            out.status.success(),
            "{} {}: {text}{}",
            args[0],
            args[1],
            String::from_utf8_lossy(&out.stderr)
        );
        // `ledger verify` says OK on stdout; `projections check` prints its JSON there
        // and its verdict on stderr.
        let stderr = String::from_utf8_lossy(&out.stderr);
        let verdict = stderr
            .lines()
            .rfind(|l| !l.trim().is_empty())
            .or_else(|| text.lines().last())
            .unwrap_or("ok")
            .trim()
            .to_owned();
        said.push(format!("{} {}: {verdict}", args[0], args[1]));
    }
    println!(
        "  nothing lost or doubled: {} acknowledged uploads on the ledger once each; {}",
        uploads.len(),
        said.join("; ")
    );
    Ok(())
}

/// CPU time of every `postgres` process on this machine: each live one's own, and what
/// the postmaster holds of the backends it has reaped.
fn postgres_cpu() -> Duration {
    let Ok(entries) = std::fs::read_dir("/proc") else {
        return Duration::ZERO;
    };
    let mut total = 0u64;
    for entry in entries.flatten() {
        let Ok(stat) = std::fs::read_to_string(entry.path().join("stat")) else {
            continue;
        };
        let (Some(open), Some(close)) = (stat.find('('), stat.rfind(')')) else {
            continue;
        };
        if &stat[open + 1..close] != "postgres" {
            continue;
        }
        let fields: Vec<&str> = stat[close + 2..].split_whitespace().collect();
        // utime, stime, cutime, cstime: fields 14–17 of stat(5), here from 11.
        total += fields
            .iter()
            .skip(11)
            .take(4)
            .filter_map(|f| f.parse::<u64>().ok())
            .sum::<u64>();
    }
    // USER_HZ is 100 wherever Linux runs.
    Duration::from_millis(total * 10)
}
