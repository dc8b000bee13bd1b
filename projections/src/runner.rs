//! The projection runner: one task per projector that applies new events in batches, and
//! one listener per process that hears the ledger's and the projectors' NOTIFYs.
//!
//! A projector's task wakes when the ledger's head moves (`LISTEN`) and also every
//! `POLL`, so a lost notification only delays. With several server processes, the one
//! that leads a projector (`leadership`) applies its events; the others skip what it
//! skips and follow the leader's NOTIFYs for the rest. Batches still take the
//! projector's advisory lock, for the moments two processes both believe they lead. A
//! projector that fails on an event stops there for this process's lifetime: the
//! checkpoint stays before the event, the row says where and why, `/health` names it,
//! and a restart tries again.

use crate::{
    Projector,
    batch::{BatchOutcome, Target, apply_batch},
    tail::Tail,
};
use commands::event_store::LEDGER_CHANNEL;
use sqlx::{PgPool, postgres::PgListener};
use std::{
    collections::HashMap,
    sync::{Arc, Mutex},
    time::Duration,
};
use tokio::{sync::watch, task::JoinSet, time::Instant};

/// Each commit of a projector NOTIFYs `<name>:<seq>` here, so every process learns of
/// progress made anywhere (read-your-writes waits on it).
pub const PROJECTIONS_CHANNEL: &str = "medchain_projections";

/// The NOTIFY payload that says projector `name` stands at `seq` (read back in `listen_once`).
pub(crate) fn progress_payload(name: &str, seq: i64) -> String {
    format!("{name}:{seq}")
}

const BATCH: usize = 500;
const POLL: Duration = Duration::from_secs(1);
/// How long the checkpoint row may lag behind events a projector had no use for. Most
/// events concern one or two projectors: writing the others' rows at every event cost
/// two statements and a commit per projector per event, for nothing a reader could see.
/// Waiters in this process never wait for the row; those in another wait about this long
/// at most.
const DEFER: Duration = Duration::from_millis(500);
/// How often a waiter looks at the checkpoint table itself, in case a NOTIFY was lost.
const WAIT_POLL: Duration = Duration::from_millis(100);

/// Where a projector stands, as far as this process knows.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Progress {
    pub seq: i64,
    /// The event it stopped on, when it stopped.
    pub failed_at: Option<i64>,
}

#[derive(Debug, thiserror::Error)]
pub enum WaitError {
    #[error("the {name} view has not caught up with event {seq} yet")]
    Timeout { name: &'static str, seq: i64 },
    #[error("the {name} view has stopped on event {failed_at}")]
    Stopped { name: &'static str, failed_at: i64 },
    #[error("no projector is named {0}")]
    Unknown(String),
    #[error(transparent)]
    Database(#[from] sqlx::Error),
}

/// The running projectors of this process. Cloning shares them; dropping the last clone
/// stops their tasks.
#[derive(Clone)]
pub struct Projections {
    inner: Arc<Inner>,
    _tasks: Arc<Mutex<JoinSet<()>>>,
}

struct Inner {
    pool: PgPool,
    tail: Tail,
    progress: HashMap<&'static str, watch::Sender<Progress>>,
    head: watch::Sender<i64>,
    /// Whether this process leads each projector (`leadership`): only a leader applies.
    leading: HashMap<&'static str, watch::Sender<bool>>,
}

impl Projections {
    /// Starts a task per projector and the listener. Returns once every projector has a
    /// checkpoint row.
    pub async fn start(
        pool: PgPool,
        projectors: Vec<Arc<dyn Projector>>,
    ) -> Result<Self, sqlx::Error> {
        let mut progress = HashMap::new();
        for p in &projectors {
            let seq: i64 = sqlx::query_scalar(
                "INSERT INTO projection_checkpoints (name) VALUES ($1) \
                 ON CONFLICT (name) DO UPDATE SET name = EXCLUDED.name RETURNING last_seq",
            )
            .bind(p.name())
            .fetch_one(&pool)
            .await?;
            progress.insert(
                p.name(),
                watch::Sender::new(Progress {
                    seq,
                    failed_at: None,
                }),
            );
        }
        let inner = Arc::new(Inner {
            tail: Tail::new(pool.clone()),
            pool,
            leading: progress
                .keys()
                .map(|name| (*name, watch::Sender::new(false)))
                .collect(),
            progress,
            head: watch::Sender::new(0),
        });
        let mut tasks = JoinSet::new();
        tasks.spawn(listen(inner.clone()));
        tasks.spawn(crate::leadership::hold(
            inner.pool.clone(),
            inner.leading.clone(),
        ));
        for p in projectors {
            tasks.spawn(run_projector(inner.clone(), p));
        }
        Ok(Self {
            inner,
            _tasks: Arc::new(Mutex::new(tasks)),
        })
    }

    /// The ledger's head as this process last heard it (NOTIFY), for live tails.
    pub fn head(&self) -> watch::Receiver<i64> {
        self.inner.head.subscribe()
    }

    /// Changes whenever the projector `name` moves, in this process or (through NOTIFY)
    /// another, for live streams over its tables.
    pub fn watch(&self, name: &str) -> Option<watch::Receiver<Progress>> {
        self.inner.progress.get(name).map(watch::Sender::subscribe)
    }

    /// The projectors this process runs.
    pub fn names(&self) -> Vec<&'static str> {
        let mut names: Vec<_> = self.inner.progress.keys().copied().collect();
        names.sort_unstable();
        names
    }

    pub fn progress(&self, name: &str) -> Option<Progress> {
        self.inner.progress.get(name).map(|p| *p.borrow())
    }

    /// Returns once every named projector has applied `seq` (read-your-writes), or fails
    /// after `timeout`, or at once if one of them has stopped before it.
    pub async fn wait_for(
        &self,
        names: &[&'static str],
        seq: i64,
        timeout: Duration,
    ) -> Result<(), WaitError> {
        let deadline = tokio::time::Instant::now() + timeout;
        // Whoever waits for `seq` knows it is committed: the projectors of this process
        // start on it now rather than when the ledger's NOTIFY comes round.
        self.inner.heard_locally(seq);
        for &name in names {
            let sender = self
                .inner
                .progress
                .get(name)
                .ok_or_else(|| WaitError::Unknown(name.to_owned()))?;
            let mut rx = sender.subscribe();
            loop {
                let now = *rx.borrow_and_update();
                if now.seq >= seq {
                    break;
                }
                if let Some(failed_at) = now.failed_at {
                    return Err(WaitError::Stopped { name, failed_at });
                }
                tokio::select! {
                    _ = rx.changed() => {}
                    _ = tokio::time::sleep(WAIT_POLL) => {
                        let stored = read_progress(&self.inner.pool, name).await?;
                        sender.send_if_modified(|p| p.merge(stored));
                    }
                    _ = tokio::time::sleep_until(deadline) => {
                        return Err(WaitError::Timeout { name, seq });
                    }
                }
            }
        }
        Ok(())
    }

    /// Follows this process's own appends (`EventStore::committed`): its projectors start
    /// on them at once, before the ledger's NOTIFY comes round.
    pub fn follow_local_appends(&self, mut committed: watch::Receiver<i64>) {
        let inner = self.inner.clone();
        self._tasks
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .spawn(async move {
                loop {
                    let seq = *committed.borrow_and_update();
                    inner.heard_locally(seq);
                    if committed.changed().await.is_err() {
                        return;
                    }
                }
            });
    }

    /// Projectors of this process that have stopped, with the event each stopped on.
    pub fn stopped(&self) -> Vec<(&'static str, i64)> {
        let mut out: Vec<_> = self
            .inner
            .progress
            .iter()
            .filter_map(|(name, p)| p.borrow().failed_at.map(|seq| (*name, seq)))
            .collect();
        out.sort();
        out
    }
}

impl Progress {
    /// Keeps the furthest position; a stored failure counts until a later success.
    fn merge(&mut self, other: Progress) -> bool {
        let before = *self;
        if other.seq > self.seq {
            self.seq = other.seq;
            if self.failed_at.is_some_and(|f| f <= other.seq) {
                self.failed_at = None;
            }
        }
        if self.failed_at.is_none() && other.failed_at.is_some_and(|f| f > self.seq) {
            self.failed_at = other.failed_at;
        }
        *self != before
    }
}

impl Inner {
    /// `seq` is committed and this process wants it in its views now.
    fn heard_locally(&self, seq: i64) {
        self.head.send_if_modified(|h| {
            let moved = seq > *h;
            *h = (*h).max(seq);
            moved
        });
    }
}

async fn read_progress(pool: &PgPool, name: &str) -> Result<Progress, sqlx::Error> {
    let row: Option<(i64, Option<i64>)> =
        sqlx::query_as("SELECT last_seq, failed_seq FROM projection_checkpoints WHERE name = $1")
            .bind(name)
            .fetch_optional(pool)
            .await?;
    Ok(
        row.map_or(Progress::default(), |(seq, failed_at)| Progress {
            seq,
            failed_at,
        }),
    )
}

async fn run_projector(inner: Arc<Inner>, projector: Arc<dyn Projector>) {
    let name = projector.name();
    let progress = &inner.progress[name];
    let mut head = inner.head.subscribe();
    let mut leading = inner.leading[name].subscribe();
    // Where this task stands, so a step need not read the checkpoint back. If another
    // process moved it since, the next write finds out (it checks the row) and comes
    // back Busy, and the step after reads it again.
    let mut position: Option<Position> = None;
    // When the checkpoint row must follow `position.read` at the latest.
    let mut write_by: Option<Instant> = None;
    // Transient failures in a row: each pause doubles, up to `MAX_BACKOFF`.
    let mut failures: u32 = 0;
    loop {
        let at = match position {
            Some(at) => at,
            None => match read_progress(&inner.pool, name).await {
                Ok(stored) => Position::stored(stored.seq),
                Err(e) => {
                    tracing::warn!(projector = name, error = %e, "projector cannot read its checkpoint; retrying");
                    tokio::time::sleep(POLL).await;
                    continue;
                }
            },
        };
        let leads = *leading.borrow_and_update();
        let (next, more, busy) = match step(&inner, projector.as_ref(), at, leads).await {
            Ok(Step::Applied { seq, more }) => (Some(Position::stored(seq)), more, false),
            Ok(Step::Skipped { seq, more }) => (
                Some(Position {
                    stored: at.stored,
                    read: seq,
                }),
                more,
                false,
            ),
            Ok(Step::Idle) => (Some(at), false, false),
            Ok(Step::Leader) => {
                // The leader applies it: follow its progress (or take over).
                position = follow_leader(progress, &mut leading, at).await;
                write_by = None;
                failures = 0;
                continue;
            }
            Ok(Step::Busy) => (None, false, true),
            Ok(Step::Stopped(seq)) => {
                progress.send_modify(|p| p.failed_at = Some(seq));
                return;
            }
            Ok(Step::Retry) => {
                failures += 1;
                position = None;
                write_by = None;
                tokio::time::sleep(backoff(failures)).await;
                continue;
            }
            Err(e) => {
                // The database is away or a query failed outside any event: try again.
                tracing::warn!(projector = name, error = %e, "projector could not run a batch; retrying");
                failures += 1;
                position = None;
                write_by = None;
                tokio::time::sleep(backoff(failures)).await;
                continue;
            }
        };
        failures = 0;
        position = next;
        match next {
            Some(at) => {
                // The views hold everything up to `at.read` whether or not the row says
                // so yet: waiters in this process need not wait for the row.
                progress.send_if_modified(|p| {
                    p.merge(Progress {
                        seq: at.read,
                        failed_at: None,
                    })
                });
                if at.stored == at.read {
                    write_by = None;
                } else {
                    let due = *write_by.get_or_insert_with(|| Instant::now() + DEFER);
                    if Instant::now() >= due {
                        write_by = None;
                        position = write_checkpoint(&inner.pool, name, at).await;
                    }
                }
            }
            None => write_by = None,
        }
        // Caught up when the last read came back short and reached the head as last
        // heard: then wait for the head to move (it fires at once if it moved since),
        // the poll, or the put-off checkpoint write. Busy (another process writes) waits
        // too; a put-off write another process overtook reads the row again at once.
        let heard = *head.borrow_and_update();
        let caught_up = !more
            && match position {
                Some(at) => at.read >= heard,
                None => busy,
            };
        if caught_up {
            let due = write_by.unwrap_or_else(|| Instant::now() + POLL);
            tokio::select! {
                _ = head.changed() => {
                    let gather = projector.gather();
                    if !gather.is_zero() {
                        tokio::time::sleep(gather).await;
                    }
                }
                _ = tokio::time::sleep(POLL) => {}
                _ = tokio::time::sleep_until(due) => {}
            }
        }
    }
}

/// While another process leads the projector: where to stand once its progress passes
/// `at` (it NOTIFYs each commit), or `at` again when this process takes the lead; `None`
/// (read the row) when nothing was heard within `POLL`.
async fn follow_leader(
    progress: &watch::Sender<Progress>,
    leading: &mut watch::Receiver<bool>,
    at: Position,
) -> Option<Position> {
    let mut done = progress.subscribe();
    loop {
        let stands = done.borrow_and_update().seq;
        if stands > at.read {
            // The leader's checkpoint, as its NOTIFY said (a wrong guess comes back Busy
            // once this process leads, and reads the row).
            return Some(Position::stored(stands));
        }
        if *leading.borrow() {
            return Some(at);
        }
        tokio::select! {
            _ = done.changed() => {}
            _ = leading.changed() => {}
            _ = tokio::time::sleep(POLL) => return None,
        }
    }
}

/// The longest pause between tries after transient failures.
const MAX_BACKOFF: Duration = Duration::from_secs(30);

/// The pause after `failures` transient failures in a row: 100 ms, doubling, at most
/// `MAX_BACKOFF`.
fn backoff(failures: u32) -> Duration {
    let doubled =
        Duration::from_millis(100).saturating_mul(1 << failures.min(16).saturating_sub(1));
    doubled.min(MAX_BACKOFF)
}

/// Where a projector's task stands: `stored` in its checkpoint row, `read` the last event
/// it has dealt with. Between them lie only events it has no use for: moving the row
/// over them waits (`DEFER` at most) for a batch that writes anyway.
#[derive(Debug, Clone, Copy)]
struct Position {
    stored: i64,
    read: i64,
}

impl Position {
    fn stored(seq: i64) -> Self {
        Self {
            stored: seq,
            read: seq,
        }
    }
}

/// Moves the checkpoint row up to `at.read`. The position to go on from: `None` when
/// another process holds the projector or moved the row (the next step reads it).
async fn write_checkpoint(pool: &PgPool, name: &str, at: Position) -> Option<Position> {
    match crate::batch::move_checkpoint_only(pool, name, at.stored, at.read).await {
        Ok(true) => Some(Position::stored(at.read)),
        Ok(false) => None,
        Err(e) => {
            tracing::warn!(projector = name, error = %e, "projector could not move its checkpoint; retrying");
            None
        }
    }
}

enum Step {
    /// Applied up to `seq`, and the checkpoint row says so; `more` when the batch was
    /// full, so more may be waiting.
    Applied {
        seq: i64,
        more: bool,
    },
    /// Read up to `seq`, with nothing for this projector: nothing written.
    Skipped {
        seq: i64,
        more: bool,
    },
    /// Nothing after the position.
    Idle,
    Busy,
    /// The next event is this projector's, and another process leads it.
    Leader,
    /// A transient error: try the same events again after a pause.
    Retry,
    Stopped(i64),
}

async fn step(
    inner: &Inner,
    projector: &dyn Projector,
    at: Position,
    leads: bool,
) -> Result<Step, sqlx::Error> {
    let name = projector.name();
    let events = inner.tail.read_from(at.read + 1, BATCH).await?;
    let Some(last) = events.last() else {
        return Ok(Step::Idle);
    };
    let more = events.len() == BATCH;
    let Some(first) = events.iter().find(|e| projector.reads(&e.event_type)) else {
        return Ok(Step::Skipped {
            seq: last.seq,
            more,
        });
    };
    if !leads {
        // Up to the first event it reads, as a skip; from there the leader's.
        return Ok(if first.seq - 1 > at.read {
            Step::Skipped {
                seq: first.seq - 1,
                more: true,
            }
        } else {
            Step::Leader
        });
    }
    let mut conn = inner.pool.acquire().await?;
    let target = Target::Live {
        checkpoint: at.stored,
    };
    match apply_batch(&mut conn, projector, &events, target).await? {
        BatchOutcome::Applied { last_seq } => Ok(Step::Applied {
            seq: last_seq,
            more,
        }),
        BatchOutcome::Busy => Ok(Step::Busy),
        BatchOutcome::Failed { seq, error } if error.is_transient() => {
            // Not the event's fault: the same batch is tried again, after a pause.
            tracing::warn!(projector = name, seq, error = %error, "projector met a transient error; it will try the event again");
            Ok(Step::Retry)
        }
        BatchOutcome::Failed { seq, error } => {
            let marked = sqlx::query(
                "UPDATE projection_checkpoints SET failed_seq = $2, failure = $3, updated_at = now() \
                 WHERE name = $1 AND last_seq < $2",
            )
            .bind(name)
            .bind(seq)
            .bind(error.to_string())
            .execute(&mut *conn)
            .await?;
            if marked.rows_affected() == 0 {
                // Another writer has applied the event meanwhile: this batch only raced
                // it (and may have failed on its rows). Go on from where that one stands.
                tracing::warn!(projector = name, seq, error = %error, "projector failed on an event another writer has applied since; going on from there");
                return Ok(Step::Busy);
            }
            tracing::error!(projector = name, seq, error = %error, "projector stopped on an event; it will not skip it");
            Ok(Step::Stopped(seq))
        }
    }
}

/// Hears the ledger's head and the projectors' progress from every process.
async fn listen(inner: Arc<Inner>) {
    loop {
        if let Err(e) = listen_once(&inner).await {
            tracing::warn!(error = %e, "projection listener lost its connection; reconnecting");
        }
        tokio::time::sleep(POLL).await;
    }
}

async fn listen_once(inner: &Inner) -> Result<(), sqlx::Error> {
    let mut listener = PgListener::connect_with(&inner.pool).await?;
    listener
        .listen_all([LEDGER_CHANNEL, PROJECTIONS_CHANNEL])
        .await?;
    loop {
        let n = listener.recv().await?;
        if n.channel() == LEDGER_CHANNEL {
            if let Some(seq) = serde_json::from_str::<serde_json::Value>(n.payload())
                .ok()
                .and_then(|v| v["seq"].as_i64())
            {
                inner.head.send_if_modified(|h| {
                    let moved = seq > *h;
                    *h = (*h).max(seq);
                    moved
                });
            }
        } else if let Some((name, seq)) = n.payload().rsplit_once(':')
            && let (Some(progress), Ok(seq)) = (inner.progress.get(name), seq.parse::<i64>())
        {
            progress.send_if_modified(|p| {
                p.merge(Progress {
                    seq,
                    failed_at: None,
                })
            });
        }
    }
}

#[cfg(test)]
mod tests {
    use super::Progress;
    use std::time::Duration;

    #[test]
    fn transient_failures_back_off_doubling_to_a_ceiling() {
        assert_eq!(super::backoff(1), Duration::from_millis(100));
        assert_eq!(super::backoff(2), Duration::from_millis(200));
        assert_eq!(super::backoff(5), Duration::from_millis(1600));
        assert_eq!(super::backoff(100), super::MAX_BACKOFF);
    }

    #[test]
    fn progress_keeps_the_furthest_and_a_later_success_clears_a_failure() {
        let mut p = Progress {
            seq: 5,
            failed_at: Some(6),
        };
        assert!(!p.merge(Progress {
            seq: 4,
            failed_at: None
        }));
        assert!(p.merge(Progress {
            seq: 9,
            failed_at: None
        }));
        assert_eq!(
            p,
            Progress {
                seq: 9,
                failed_at: None
            }
        );
        assert!(p.merge(Progress {
            seq: 9,
            failed_at: Some(10)
        }));
        assert_eq!(p.failed_at, Some(10));
    }
}
