//! The group-commit appender: one task per process that gathers concurrent appends into
//! one transaction under the ledger lock, so throughput grows with concurrency instead
//! of queueing on the lock.
//!
//! Each round: take every waiting request (up to `MAX_BATCH_EVENTS`), `BEGIN`, take
//! `pg_advisory_xact_lock` (the lock other processes' appenders take too), read the head
//! and the streams' versions in a statement that starts after the lock is held (so its
//! snapshot sees every earlier commit), decide each request against its expected version
//! (a stale one gets its `Conflict` while the others go on), hash the entries in order,
//! insert them with one statement that also NOTIFYs the new head, and commit. NOTIFY is
//! delivered at commit, so listeners never hear of a head they cannot read.
//!
//! The appender runs on its own thread with a current-thread runtime and a connection
//! made there (not borrowed from the pool): measured with `medchain bench ledger`, this
//! cut a lone writer's p50 from 0.52 ms to 0.39 ms, because each round's five round trips
//! no longer wait behind the multi-threaded runtime's scheduling.
//!
//! `at` is the later of the clock and the head's own time, so times never decrease along
//! seq and "everything at or before time T" is always a prefix of the ledger.

use super::{AppendError, Appended, ExpectedVersion, LEDGER_CHANNEL, LEDGER_LOCK_KEY, NewEvent};
use crate::clock::Clock;
use chrono::{DateTime, Utc};
use domain::{
    StreamName, Timestamp,
    ledger::{Entry, Hash},
};
use sqlx::{Connection as _, PgConnection, PgPool, postgres::PgConnectOptions};
use std::{
    collections::HashMap,
    sync::{
        Arc,
        atomic::{AtomicU64, Ordering},
    },
    time::Instant,
};
use tokio::sync::{mpsc, oneshot};

/// The most events one transaction carries; a request larger than this is refused.
pub const MAX_BATCH_EVENTS: usize = 2_000;

pub(super) struct Request {
    pub stream: StreamName,
    pub expected: ExpectedVersion,
    pub events: Vec<NewEvent>,
    pub reply: oneshot::Sender<Result<Appended, AppendError>>,
}

#[derive(Default)]
pub(super) struct Stats {
    batches: AtomicU64,
    events: AtomicU64,
    hash_nanos: AtomicU64,
    thread_cpu_nanos: AtomicU64,
}

#[derive(Debug, Clone, Copy, Default)]
pub struct StatsSnapshot {
    pub batches: u64,
    pub events: u64,
    /// Time spent building canonical entries and hashing them.
    pub hash_nanos: u64,
    /// CPU time of the appender's thread so far (Linux; 0 elsewhere), refreshed at most
    /// every 20 ms after a round.
    pub thread_cpu_nanos: u64,
}

impl Stats {
    pub(super) fn snapshot(&self) -> StatsSnapshot {
        StatsSnapshot {
            batches: self.batches.load(Ordering::Relaxed),
            events: self.events.load(Ordering::Relaxed),
            hash_nanos: self.hash_nanos.load(Ordering::Relaxed),
            thread_cpu_nanos: self.thread_cpu_nanos.load(Ordering::Relaxed),
        }
    }
}

pub(super) fn spawn(
    pool: PgPool,
    clock: Arc<dyn Clock>,
    stats: Arc<Stats>,
) -> mpsc::Sender<Request> {
    let (tx, rx) = mpsc::channel(4 * MAX_BATCH_EVENTS);
    let options = (*pool.connect_options()).clone();
    // Its own thread and runtime, with a connection made there: the round trips of the
    // rounds are then never queued behind the work of the server's tasks.
    std::thread::Builder::new()
        .name("medchain-appender".into())
        .spawn(move || {
            let runtime = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .expect("the appender's runtime starts");
            runtime.block_on(run(options, clock, stats, rx));
        })
        .expect("the appender's thread starts");
    tx
}

async fn run(
    options: PgConnectOptions,
    clock: Arc<dyn Clock>,
    stats: Arc<Stats>,
    mut rx: mpsc::Receiver<Request>,
) {
    let mut columns = Columns::default();
    let mut conn = Connection {
        options,
        held: None,
    };
    let mut cpu_read = Instant::now();
    while let Some(first) = rx.recv().await {
        let mut events = first.events.len();
        let mut batch = vec![first];
        while events < MAX_BATCH_EVENTS {
            match rx.try_recv() {
                Ok(next) if events + next.events.len() <= MAX_BATCH_EVENTS => {
                    events += next.events.len();
                    batch.push(next);
                }
                Ok(next) => {
                    // Too big for this round: commit what we have, then start with it.
                    commit_round(
                        &mut conn,
                        clock.as_ref(),
                        &stats,
                        std::mem::take(&mut batch),
                        &mut columns,
                    )
                    .await;
                    events = next.events.len();
                    batch.push(next);
                }
                Err(_) => break,
            }
        }
        commit_round(&mut conn, clock.as_ref(), &stats, batch, &mut columns).await;
        if cpu_read.elapsed() >= std::time::Duration::from_millis(20) {
            cpu_read = Instant::now();
            if let Some(nanos) = this_thread_cpu_nanos() {
                stats.thread_cpu_nanos.store(nanos, Ordering::Relaxed);
            }
        }
    }
}

/// The calling thread's time on CPU, from the scheduler's own accounting.
fn this_thread_cpu_nanos() -> Option<u64> {
    let text = std::fs::read_to_string("/proc/thread-self/schedstat").ok()?;
    text.split_whitespace().next()?.parse().ok()
}

/// The appender's own connection, kept between rounds and replaced after any error.
struct Connection {
    options: PgConnectOptions,
    held: Option<PgConnection>,
}

impl Connection {
    async fn get(&mut self) -> Result<&mut PgConnection, sqlx::Error> {
        if self.held.is_none() {
            self.held = Some(PgConnection::connect_with(&self.options).await?);
        }
        Ok(self.held.as_mut().expect("just set"))
    }
}

/// The rows of one round, column by column, for one `INSERT … SELECT unnest(…)`.
#[derive(Default)]
struct Columns {
    seq: Vec<i64>,
    id: Vec<uuid::Uuid>,
    stream: Vec<String>,
    version: Vec<i32>,
    event_type: Vec<String>,
    actor: Vec<Option<uuid::Uuid>>,
    at: Vec<DateTime<Utc>>,
    payload: Vec<String>,
    prev: Vec<Vec<u8>>,
    hash: Vec<Vec<u8>>,
    scratch: Vec<u8>,
}

impl Columns {
    fn clear(&mut self) {
        self.seq.clear();
        self.id.clear();
        self.stream.clear();
        self.version.clear();
        self.event_type.clear();
        self.actor.clear();
        self.at.clear();
        self.payload.clear();
        self.prev.clear();
        self.hash.clear();
    }
}

async fn commit_round(
    conn: &mut Connection,
    clock: &dyn Clock,
    stats: &Stats,
    batch: Vec<Request>,
    columns: &mut Columns,
) {
    if batch.is_empty() {
        return;
    }
    columns.clear();
    let result = match conn.get().await {
        Ok(c) => write_round(c, clock, stats, batch, columns).await,
        Err(e) => Err((e, batch.into_iter().map(|r| r.reply).collect())),
    };
    match result {
        Ok(answers) => {
            for (reply, answer) in answers {
                let _ = reply.send(answer);
            }
        }
        Err((error, replies)) => {
            // The connection may be broken; the next round starts on a fresh one.
            conn.held = None;
            tracing::error!(error = %error, "ledger append failed; the round was rolled back");
            let error = Arc::new(error);
            for reply in replies {
                let _ = reply.send(Err(AppendError::Database(error.clone())));
            }
        }
    }
}

type Reply = oneshot::Sender<Result<Appended, AppendError>>;
type Answers = Vec<(Reply, Result<Appended, AppendError>)>;

/// On failure, gives back every reply channel so each caller hears of it.
async fn write_round(
    conn: &mut PgConnection,
    clock: &dyn Clock,
    stats: &Stats,
    batch: Vec<Request>,
    columns: &mut Columns,
) -> Result<Answers, (sqlx::Error, Vec<Reply>)> {
    let mut streams: Vec<String> = batch.iter().map(|r| r.stream.as_str().to_owned()).collect();
    streams.sort_unstable();
    streams.dedup();

    let mut tx = match conn.begin().await {
        Ok(tx) => tx,
        Err(e) => return Err((e, batch.into_iter().map(|r| r.reply).collect())),
    };
    let head = async {
        sqlx::query("SELECT pg_advisory_xact_lock($1)").bind(LEDGER_LOCK_KEY).execute(&mut *tx).await?;
        sqlx::query_as::<_, (Option<i64>, Option<Vec<u8>>, Option<DateTime<Utc>>, Vec<i32>)>(
            "SELECT h.seq, h.hash, h.recorded_at, \
                    ARRAY(SELECT coalesce((SELECT e.version FROM events e WHERE e.stream = s.name \
                                           ORDER BY e.version DESC LIMIT 1), 0) \
                          FROM unnest($1::text[]) WITH ORDINALITY AS s(name, i) ORDER BY s.i) \
             FROM (SELECT 1) AS one \
             LEFT JOIN LATERAL (SELECT seq, hash, recorded_at FROM events ORDER BY seq DESC LIMIT 1) h ON true",
        )
        .bind(&streams)
        .fetch_one(&mut *tx)
        .await
    }
    .await;
    let (head_seq, head_hash, head_at, versions) = match head {
        Ok(row) => row,
        Err(e) => return Err((e, batch.into_iter().map(|r| r.reply).collect())),
    };
    let mut seq = head_seq.unwrap_or(0);
    let mut prev = match head_hash.as_deref().map(Hash::from_slice).transpose() {
        Ok(h) => h.unwrap_or(Hash::ZERO),
        Err(_) => {
            let e = sqlx::Error::Protocol(format!(
                "the ledger head (seq {seq}) has a hash that is not 32 bytes"
            ));
            return Err((e, batch.into_iter().map(|r| r.reply).collect()));
        }
    };
    let head_at = head_at.map(Timestamp::from_datetime);
    let at = head_at.map_or(clock.now(), |h| h.max(clock.now()));
    let mut current: HashMap<String, i32> = streams.into_iter().zip(versions).collect();

    let started = Instant::now();
    let mut answers: Answers = Vec::with_capacity(batch.len());
    let mut pending: Vec<(Reply, Appended)> = Vec::with_capacity(batch.len());
    for request in batch {
        let version = current
            .get_mut(request.stream.as_str())
            .expect("every stream of the round was read");
        if let ExpectedVersion::Exact(expected) = request.expected
            && expected != *version
        {
            let conflict = AppendError::Conflict {
                stream: request.stream.to_string(),
                expected,
                actual: *version,
            };
            answers.push((request.reply, Err(conflict)));
            continue;
        }
        let first_seq = seq + 1;
        for event in &request.events {
            seq += 1;
            *version += 1;
            let entry = Entry {
                seq,
                id: event.id,
                stream: request.stream.as_str(),
                version: *version,
                event_type: event.event_type.as_str(),
                actor: event.actor,
                at,
                payload: &event.payload,
                prev,
            };
            let hash = entry.hash_with(&mut columns.scratch);
            columns.seq.push(seq);
            columns.id.push(event.id);
            columns.stream.push(request.stream.as_str().to_owned());
            columns.version.push(*version);
            columns
                .event_type
                .push(event.event_type.as_str().to_owned());
            columns.actor.push(event.actor);
            columns.at.push(at.to_datetime());
            columns.payload.push(event.payload.as_str().to_owned());
            columns.prev.push(prev.as_bytes().to_vec());
            columns.hash.push(hash.as_bytes().to_vec());
            prev = hash;
        }
        pending.push((
            request.reply,
            Appended {
                first_seq,
                last_seq: seq,
                version: *version,
                last_hash: prev,
            },
        ));
    }
    stats
        .hash_nanos
        .fetch_add(started.elapsed().as_nanos() as u64, Ordering::Relaxed);

    if pending.is_empty() {
        // Only conflicts: nothing to write; the transaction ends with the lock released.
        drop(tx);
        return Ok(answers);
    }
    let written = async {
        sqlx::query(
            "WITH inserted AS ( \
                INSERT INTO events (seq, id, stream, version, type, actor, recorded_at, payload, prev_hash, hash) \
                SELECT * FROM unnest($1::bigint[], $2::uuid[], $3::text[], $4::int[], $5::text[], $6::uuid[], \
                                     $7::timestamptz[], $8::text[]::json[], $9::bytea[], $10::bytea[]) \
                RETURNING 1) \
             SELECT pg_notify($11, $12) FROM (SELECT count(*) FROM inserted) AS c",
        )
        .bind(&columns.seq)
        .bind(&columns.id)
        .bind(&columns.stream)
        .bind(&columns.version)
        .bind(&columns.event_type)
        .bind(&columns.actor)
        .bind(&columns.at)
        .bind(&columns.payload)
        .bind(&columns.prev)
        .bind(&columns.hash)
        .bind(LEDGER_CHANNEL)
        .bind(format!("{{\"seq\":{seq},\"hash\":\"{}\"}}", prev.to_hex()))
        .execute(&mut *tx)
        .await?;
        tx.commit().await
    }
    .await;
    if let Err(e) = written {
        // Every caller of the round hears of the failure, conflicts included: a conflict
        // caused by an earlier request of this same round would not hold any more.
        let replies = answers
            .into_iter()
            .map(|(reply, _)| reply)
            .chain(pending.into_iter().map(|(reply, _)| reply));
        return Err((e, replies.collect()));
    }
    stats.batches.fetch_add(1, Ordering::Relaxed);
    stats
        .events
        .fetch_add(columns.seq.len() as u64, Ordering::Relaxed);
    answers.extend(
        pending
            .into_iter()
            .map(|(reply, appended)| (reply, Ok(appended))),
    );
    Ok(answers)
}
