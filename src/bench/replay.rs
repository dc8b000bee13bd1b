//! `medchain bench replay [--events N]`: `whoCouldRead` asked at a point N events deep
//! (default 1 000 000), as the library call and through the real server's GraphQL API,
//! beside a full rebuild of every projector from the same ledger, in one run on a scratch
//! database. Target: the answer in ≤ 2 s.
//!
//! The history is made with the real commands where people act rarely (registration,
//! approval, upload, sharing) and with real domain events appended in large batches
//! where they act often: doctors reading the records shared with them (`RecordAccessed`,
//! 1 000 per append, at the record's exact version), every fifth batch of a record also
//! revoking one doctor's share and granting a new one. The target record is read all
//! along like the others; what decides the answer (a share revoked and granted again with
//! an expiry, another revoked, a doctor suspended) is done with the real commands about
//! 100 events before the end, and the question is asked just after the last event.

use super::{measure::Latencies, records::gql};
use crate::{checkpointer::Policy, cli::Common, server};
use bytes::Bytes;
use commands::{
    Caller, Clock, EventStore, ExpectedVersion, Kernel, SystemClock,
    accounts::{Accounts, RegisterRequest, SessionPolicy},
    blobs::BlobStore,
    event_store::{NewEvent, new_events},
    keys::{KeyRing, LedgerKey, MasterKey},
    ledger::{CheckpointStore, ledger_head, time_of},
    mail::Mailer,
    password_hasher::PasswordHasher,
    records::{Records, Upload, UploadLimits},
};
use domain::account::{Role, UserId, user::Registration};
use domain::record::{
    ReadAction, RecordAccessed, RecordEvent, RecordId, RecordShared, ShareId, ShareRevoked, Title,
};
use projections::replay::{Moment, resolve, who_could_read};
use serde_json::json;
use sqlx::PgPool;
use std::sync::Arc;
use std::time::{Duration, Instant};
use uuid::Uuid;

const PASSWORD: &str = "a long bench passphrase, 2026";
const PATIENTS: usize = 4;
const DOCTORS: usize = 4;
const RECORDS: usize = 40;
const BATCH: usize = 1_000;
/// Events kept after the fill for the target's history and the reads after it.
const TAIL: i64 = 104;
const RUNS: usize = 20;
/// How long the 64 writers append for the rate the rebuild is measured against.
const APPEND_RUN: Duration = Duration::from_secs(6);

pub async fn run(common: &Common, events: i64) -> anyhow::Result<()> {
    super::measure::in_scratch_database(common, |url| async move { bench_in(&url, events).await })
        .await
}

/// A record the fill reads: its owner, and its two doctors with their current shares.
struct Filled {
    id: RecordId,
    owner: UserId,
    doctors: [(UserId, ShareId); 2],
    version: i32,
}

fn caller(user: UserId, role: Role) -> Caller {
    let session = Uuid::nil();
    Caller {
        user,
        role,
        session,
    }
}

/// One domain event as the ledger takes it, by `actor`.
fn by(actor: UserId, event: RecordEvent) -> anyhow::Result<NewEvent> {
    Ok(new_events(&[event], Some(actor.as_uuid()))?.remove(0))
}

/// The `n`th read in a batch, by a doctor under their share.
fn read((doctor, share): (UserId, ShareId), n: usize) -> anyhow::Result<NewEvent> {
    let action = [ReadAction::Viewed, ReadAction::Downloaded][usize::from(n.is_multiple_of(3))];
    let share = Some(share);
    let read = RecordAccessed {
        action,
        share,
        emergency: None,
        link: None,
        proxy: None,
    };
    by(doctor, RecordEvent::RecordAccessed(read))
}

async fn version(pool: &PgPool, id: RecordId) -> anyhow::Result<i32> {
    let sql = "SELECT coalesce(max(version), 0) FROM events WHERE stream = $1";
    let stream = id.stream();
    let query = sqlx::query_scalar(sql).bind(stream.as_str());
    Ok(query.fetch_one(pool).await?)
}

/// Registers a person with the real command (an administrator as the CLI would).
async fn register(accounts: &Accounts, handle: &str, role: Role) -> anyhow::Result<UserId> {
    let via = [Registration::Api, Registration::Cli][usize::from(role == Role::Admin)];
    let request = RegisterRequest {
        email: format!("{handle}@example.org"),
        password: PASSWORD.to_owned(),
        name: format!("Person {handle}"),
        role,
        phone: None,
        via,
        address: None,
    };
    Ok(accounts.register(request).await?.user)
}

/// Appends `budget` events over `filled`, a batch per record in turn. One appender at a
/// time: three concurrent ones were only a fifth faster, and the rebuild dominates.
async fn fill(store: &EventStore, filled: &mut [Filled], budget: i64) -> anyhow::Result<()> {
    let (started, mut done, mut round) = (Instant::now(), 0, 0);
    while done < budget {
        for r in filled.iter_mut() {
            let n = (budget - done).min(BATCH as i64) as usize;
            if n == 0 {
                break;
            }
            let mut events = Vec::with_capacity(n);
            if round % 5 == 4 && n >= 2 {
                // So the shares and the doctors' notifications move too, not only reads.
                let (doctor, old) = r.doctors[1];
                let share = ShareId::from_uuid(Uuid::now_v7());
                let shared = RecordShared {
                    share,
                    doctor,
                    expires_at: None,
                    referral: None,
                };
                let revoked = RecordEvent::ShareRevoked(ShareRevoked { share: old });
                events.push(by(r.owner, revoked)?);
                events.push(by(r.owner, RecordEvent::RecordShared(shared))?);
                r.doctors[1].1 = share;
            }
            while events.len() < n {
                events.push(read(r.doctors[events.len() % 2], events.len())?);
            }
            let expected = ExpectedVersion::Exact(r.version);
            let appended = store.append(&r.id.stream(), expected, events).await?;
            r.version = appended.version;
            done += n as i64;
            if done % 100_000 < n as i64 {
                let rate = done as f64 / started.elapsed().as_secs_f64();
                eprintln!("filled {done} of {budget} events ({rate:.0} events/s)");
            }
        }
        round += 1;
    }
    Ok(())
}

/// Asks `ask` `RUNS` times, timing each answer and holding it to `expected`.
async fn timed<F: Future<Output = anyhow::Result<Vec<String>>>>(
    mut ask: impl FnMut() -> F,
    expected: &[String],
    how: &str,
) -> anyhow::Result<Latencies> {
    let mut latencies = Latencies::default();
    for _ in 0..RUNS {
        let t = Instant::now();
        let mut got = ask().await?;
        latencies.record(t.elapsed());
        got.sort();
        anyhow::ensure!(got == expected, "{how} answered {got:?}, not {expected:?}");
    }
    Ok(latencies)
}

async fn bench_in(url: &str, deep: i64) -> anyhow::Result<()> {
    // sqlx's default of 10 connections: the questions are asked one at a time.
    let pool = PgPool::connect(url).await?;
    commands::db::MIGRATOR.run(&pool).await?;
    let dir = tempfile::tempdir()?;
    let key: [u8; 32] = std::array::from_fn(|i| Uuid::new_v4().as_bytes()[i % 16]);
    let clock: Arc<dyn Clock> = Arc::new(SystemClock);
    let store = EventStore::start(pool.clone(), clock.clone());
    let epochs = commands::keys::EpochStore::directory(dir.path().join("key-epochs"));
    let keys = KeyRing::new(&MasterKey::from_bytes(key), epochs.clone());
    let sessions = SessionPolicy::default();
    let hasher = PasswordHasher::new()?;
    let kernel = Kernel::new(store.clone(), keys.clone());
    let accounts = Accounts::new(
        kernel.clone(),
        keys.clone(),
        hasher,
        clock.clone(),
        sessions,
    );
    let blobs = BlobStore::open(None, &dir.path().join("blobs"))?;
    let limits = UploadLimits::default();
    let records = Records::new(kernel, keys, blobs.clone(), clock.clone(), limits);

    // The people: an administrator, patients, doctors the administrator approved.
    let setup = Instant::now();
    let admin = caller(register(&accounts, "root", Role::Admin).await?, Role::Admin);
    let (mut patients, mut doctors) = (Vec::new(), Vec::new());
    for i in 0..PATIENTS {
        patients.push(register(&accounts, &format!("p{i}"), Role::Patient).await?);
    }
    for i in 0..DOCTORS {
        let doctor = register(&accounts, &format!("d{i}"), Role::Doctor).await?;
        accounts.approve_user(&admin, doctor).await?;
        doctors.push(doctor);
    }
    // Small records uploaded for real (sniffed, sealed, a blob and a data key each), each
    // shared with two doctors who read it; the target (the first) with two more.
    let mut filled = Vec::new();
    for i in 0..RECORDS {
        let owner = caller(patients[i % PATIENTS], Role::Patient);
        let meta = Upload {
            title: Title::parse(&format!("Lab {i}"))?,
            description: None,
            file_name: None,
            patient: None,
        };
        let pdf = Bytes::from_static(b"%PDF-1.7\n% bench record\n");
        let file = futures::stream::iter([Ok::<_, std::io::Error>(pdf)]);
        let id = records.upload(&owner, meta, file).await?.id;
        let (a, b) = (doctors[i % DOCTORS], doctors[(i + 1) % DOCTORS]);
        let share = |doctor| records.share(&owner, id, doctor, None);
        let pair = [(a, share(a).await?.0), (b, share(b).await?.0)];
        // The upload and the two shares: one event each.
        filled.push(Filled {
            id,
            owner: owner.user,
            doctors: pair,
            version: 3,
        });
    }
    let (owner, first) = (caller(patients[0], Role::Patient), &mut filled[0]);
    let (record, [d2, d3]) = (first.id, [doctors[2], doctors[3]]);
    let share = |doctor| records.share(&owner, record, doctor, None);
    let (d2, _) = (share(d2).await?.0, share(d3).await?);
    first.version += 2;
    let before = ledger_head(&pool).await?.seq;
    eprintln!("setup: {before} events in {:.1?}", setup.elapsed());
    let budget = deep - before - TAIL;
    anyhow::ensure!(budget > 0, "--events must be more than {}", before + TAIL);

    let started = Instant::now();
    fill(&store, &mut filled, budget).await?;
    let [(_, d0), d1] = filled[0].doctors;

    // The target's history that decides the answer, by the real commands: d0's share
    // revoked and granted again for 30 days, d2's revoked, d3 suspended; d1 keeps hers.
    records.revoke_share(&owner, record, d0).await?;
    let expires = clock.now().plus_micros(30 * 24 * 3_600_000_000);
    let again = records.share(&owner, record, doctors[0], Some(expires));
    let d0 = (doctors[0], again.await?.0);
    records.revoke_share(&owner, record, d2).await?;
    let suspended = accounts.suspend_user(&admin, doctors[3], "licence under review");
    suspended.await?;
    let rest = deep - ledger_head(&pool).await?.seq;
    anyhow::ensure!((1..=BATCH as i64).contains(&rest), "{rest} left");
    let events = (0..rest as usize).map(|n| read([d0, d1][n % 2], n));
    let events = events.collect::<anyhow::Result<Vec<_>>>()?;
    let expected = ExpectedVersion::Exact(version(&pool, record).await?);
    store.append(&record.stream(), expected, events).await?;
    let fill_took = started.elapsed();
    let head = ledger_head(&pool).await?.seq;
    anyhow::ensure!(head == deep, "the ledger ends at {head}, not {deep}");
    let at = time_of(&pool, head).await?.expect("the head has a time");
    let (at, stream) = (at.plus_micros(1), version(&pool, record).await?);

    // The full rebuild, as `medchain projections rebuild` does it: every projector
    // together, from one read of the ledger.
    let (rebuild_started, mut rebuilt) = (Instant::now(), Vec::new());
    for (name, done) in projections::rebuild_many(&pool, &projections::all()).await {
        let done = done?;
        anyhow::ensure!(
            done.last_seq == head,
            "{name} was rebuilt to {}",
            done.last_seq
        );
        rebuilt.push(name);
    }
    let rebuild_took = rebuild_started.elapsed().as_secs_f64();
    eprintln!("rebuilt {} in {rebuild_took:.1} s", rebuilt.join(", "));
    // Each alone too, for where the time goes (not part of the ratio).
    let mut alone = Vec::new();
    for projector in projections::all() {
        let t = Instant::now();
        projections::rebuild(&pool, projector.as_ref()).await?;
        alone.push(format!(
            "{} {:.1} s",
            projector.name(),
            t.elapsed().as_secs_f64()
        ));
    }

    // The question as the library call: d0 and d1 may read, and the owner; not d2, d3.
    let mut expected = [patients[0], doctors[0], doctors[1]].map(|u| u.to_string());
    expected.sort();
    let seq = resolve(&pool, Moment::Time(at)).await?.seq;
    let ask = || async {
        let answer = who_could_read(&pool, record, Moment::Time(at)).await?;
        Ok(answer.readers.iter().map(|p| p.id.to_string()).collect())
    };
    let mut library = timed(ask, &expected, "the library call").await?;

    // And through the real server, as an administrator signed in.
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let (outbox, checkpoints) = (dir.path().join("outbox"), dir.path().join("checkpoints"));
    let config = server::ServerConfig {
        replicas: None,
        metrics: None,
        master_key: MasterKey::from_bytes(key),
        key_epochs: epochs,
        key_epoch: std::time::Duration::from_secs(24 * 3600),
        sessions,
        public_origin: None,
        trusted_proxies: graphql::TrustedProxies::none(),
        dev_tools: false,
        mfa_required: domain::account::MfaPolicy::none(),
        rate_limits: commands::rate_limit::Limits::default(),
        clock,
        hasher: PasswordHasher::new()?,
        mailer: Mailer::new(None, &outbox, "m@localhost", "http://localhost")?,
        blobs,
        uploads: UploadLimits::default(),
        share_sweep: Duration::from_secs(30),
        emergency: Default::default(),
        checkpoints: server::Checkpointing {
            store: CheckpointStore::open(&checkpoints.display().to_string())?,
            key: Arc::new(LedgerKey::generate()),
            witnesses: Default::default(),
            witness_silence: std::time::Duration::from_secs(7200),
            policy: Policy {
                every_events: 1_000_000_000,
                every: Duration::from_secs(3600),
            },
        },
    };
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let stopped = async { stopped.await.unwrap_or_default() };
    let (addr, task) = server::spawn(pool.clone(), config, listener, stopped).await?;
    let (http, addr) = (reqwest::Client::new(), addr.to_string());
    let login = "mutation($e: String!, $p: String!) { login(email: $e, password: $p) { token } }";
    let signed_in = json!({"e": "root@example.org", "p": PASSWORD});
    let signed_in = gql(&http, &addr, None, login, signed_in).await?;
    let token = signed_in["data"]["login"]["token"].as_str();
    // The share notifications the rebuild queued for mail go out first, not meanwhile.
    for _ in 0..600 {
        let sql = "SELECT count(*) FROM mail_outbox WHERE status IN ('PENDING', 'SENDING')";
        if sqlx::query_scalar::<_, i64>(sql).fetch_one(&pool).await? == 0 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let query = "query($r: UUID!, $at: DateTime!) { whoCouldRead(recordId: $r, at: $at) { id } }";
    let variables = json!({"r": record.to_string(), "at": at.to_string()});
    let ask = || async {
        let answer = gql(&http, &addr, token, query, variables.clone()).await?;
        let users = answer["data"]["whoCouldRead"].as_array().cloned();
        let id = |u: &serde_json::Value| u["id"].as_str().unwrap_or_default().to_owned();
        Ok(users.unwrap_or_default().iter().map(id).collect())
    };
    let mut graphql = timed(ask, &expected, "GraphQL").await?;
    let _ = stop.send(());
    task.await??;

    // The append rate the rebuild is measured against: 64 writers, group commit, on
    // this database, now (after everything above, so none of it is in the rebuild).
    let (appends, _) = super::ledger::group_commit_run(&store, 64, APPEND_RUN).await?;
    let append_rate = appends.rate();
    drop((accounts, records, store));
    pool.close().await;

    let (appended, fill_took) = (deep - before, fill_took.as_secs_f64());
    let rebuild_rate = head as f64 / rebuild_took;
    let (lib50, lib_max) = (library.percentile_ms(50.0), library.percentile_ms(100.0));
    let (api50, api_max) = (graphql.percentile_ms(50.0), graphql.percentile_ms(100.0));
    println!(
        "events in ledger:            {head} ({before} by the setup's commands; {appended} appended in \
         {fill_took:.1} s, {:.0} events/s)\n\
         target record:               {stream} events in its stream; asked at {at}\n\
         answer (checked):            owner p0, d0 (shared again, expiring), d1; \
         not d2 (revoked), d3 (suspended)\n\
         whoCouldRead at seq {seq}: library p50 {lib50:.1} ms, max {lib_max:.1} ms ({RUNS} runs); \
         via GraphQL p50 {api50:.1} ms, max {api_max:.1} ms\n\
         target ≤ 2000 ms: worst run {:.4} of the limit\n\
         full rebuild (all projectors together): {rebuild_took:.1} s, {rebuild_rate:.0} events/s \
         (each alone: {})\n\
         appends, 64 writers, group commit: {append_rate:.0} events/s\n\
         target rebuild ≥ 1.0× appends: {:.2}×",
        appended as f64 / fill_took,
        lib_max.max(api_max) / 2_000.0,
        alone.join(", "),
        rebuild_rate / append_rate,
    );
    Ok(())
}
