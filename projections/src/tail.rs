//! The ledger's newest events, read once for all the projectors of a process.
//!
//! Every projector wakes on the same NOTIFY and wants the same new events. Without this,
//! each made its own read: one query per projector per append, most of them for events
//! the projector then skipped. Here the first to ask reads from the database while the
//! others wait for it, and they find the events it read in `recent`.
//!
//! What `recent` holds is always a gapless run of seqs: seq is taken under the ledger's
//! lock and appends commit in seq order, so a read `seq >= from` sees a gapless prefix of
//! what follows `from`. A projector served from `recent` may get fewer events than the
//! database holds by now; it asks again for the rest (the runner compares its position
//! with the head it heard), and that read goes to the database.

use commands::RecordedEvent;
use sqlx::PgPool;
use std::{collections::VecDeque, sync::Mutex};

/// How many of the newest events are kept: twice a batch, so projectors a batch apart
/// still share reads.
const KEEP: usize = 1_000;

pub(crate) struct Tail {
    pool: PgPool,
    /// Held while reading from the database, so projectors that ask together make one read.
    reading: tokio::sync::Mutex<()>,
    recent: Mutex<Recent>,
}

impl Tail {
    pub(crate) fn new(pool: PgPool) -> Self {
        Self {
            pool,
            reading: tokio::sync::Mutex::new(()),
            recent: Mutex::new(Recent::default()),
        }
    }

    /// Events with `seq >= from`, in order, at most `limit`; empty when there are none yet.
    pub(crate) async fn read_from(
        &self,
        from: i64,
        limit: usize,
    ) -> Result<Vec<RecordedEvent>, sqlx::Error> {
        if let Some(events) = self.recent().from(from, limit) {
            return Ok(events);
        }
        let _reading = self.reading.lock().await;
        // Another projector may have read them while this one waited.
        if let Some(events) = self.recent().from(from, limit) {
            return Ok(events);
        }
        let events = commands::event_store::read_all_from(&self.pool, from, limit as i64).await?;
        self.recent().keep(&events);
        Ok(events)
    }

    fn recent(&self) -> std::sync::MutexGuard<'_, Recent> {
        // Nothing panics while holding it; a poisoned lock still holds whole events.
        self.recent.lock().unwrap_or_else(|e| e.into_inner())
    }
}

/// A gapless run of the newest events read, `KEEP` at most.
#[derive(Default)]
struct Recent(VecDeque<RecordedEvent>);

impl Recent {
    /// The kept events from `from` on, at most `limit`, if `from` falls among them.
    fn from(&self, from: i64, limit: usize) -> Option<Vec<RecordedEvent>> {
        let first = self.0.front()?.seq;
        let last = self.0.back()?.seq;
        if from < first || from > last {
            return None;
        }
        let skip = usize::try_from(from - first).ok()?;
        Some(self.0.iter().skip(skip).take(limit).cloned().collect())
    }

    /// Adds what a read returned: after what is kept when it follows on, in its place
    /// otherwise.
    fn keep(&mut self, events: &[RecordedEvent]) {
        let Some(first) = events.first() else {
            return;
        };
        if self.0.back().is_none_or(|e| e.seq + 1 != first.seq) {
            self.0.clear();
        }
        self.0.extend(events.iter().cloned());
        let excess = self.0.len().saturating_sub(KEEP);
        self.0.drain(..excess);
    }
}

#[cfg(test)]
mod tests {
    use super::{KEEP, Recent};
    use commands::RecordedEvent;
    use domain::{Timestamp, ledger::Hash};
    use uuid::Uuid;

    fn event(seq: i64) -> RecordedEvent {
        RecordedEvent {
            seq,
            id: Uuid::nil(),
            stream: "user-x".into(),
            version: 1,
            event_type: "T".into(),
            actor: None,
            at: Timestamp::from_micros(seq),
            payload: serde_json::json!({}),
            prev_hash: Hash::ZERO,
            hash: Hash::ZERO,
        }
    }

    fn run(seqs: std::ops::RangeInclusive<i64>) -> Vec<RecordedEvent> {
        seqs.map(event).collect()
    }

    fn seqs(events: Option<Vec<RecordedEvent>>) -> Option<Vec<i64>> {
        events.map(|e| e.iter().map(|e| e.seq).collect())
    }

    #[test]
    fn serves_from_any_kept_seq_and_nothing_outside() {
        let mut recent = Recent::default();
        assert_eq!(seqs(recent.from(1, 10)), None);
        recent.keep(&run(5..=8));
        assert_eq!(seqs(recent.from(5, 10)), Some(vec![5, 6, 7, 8]));
        assert_eq!(seqs(recent.from(7, 10)), Some(vec![7, 8]));
        assert_eq!(seqs(recent.from(6, 2)), Some(vec![6, 7]));
        assert_eq!(seqs(recent.from(4, 10)), None, "before the first kept");
        assert_eq!(seqs(recent.from(9, 10)), None, "not read yet");
    }

    #[test]
    fn a_following_read_extends_and_a_distant_one_replaces() {
        let mut recent = Recent::default();
        recent.keep(&run(5..=8));
        recent.keep(&run(9..=10));
        assert_eq!(seqs(recent.from(5, 10)), Some(vec![5, 6, 7, 8, 9, 10]));
        // A projector far behind reads from elsewhere: no gap may be kept.
        recent.keep(&run(2..=3));
        assert_eq!(seqs(recent.from(5, 10)), None);
        assert_eq!(seqs(recent.from(2, 10)), Some(vec![2, 3]));
        recent.keep(&[]);
        assert_eq!(seqs(recent.from(2, 10)), Some(vec![2, 3]));
    }

    #[test]
    fn keeps_only_the_newest() {
        let mut recent = Recent::default();
        let n = KEEP as i64 + 10;
        recent.keep(&run(1..=n));
        assert_eq!(seqs(recent.from(10, 1)), None);
        assert_eq!(seqs(recent.from(11, 1)), Some(vec![11]));
        assert_eq!(seqs(recent.from(n, 5)), Some(vec![n]));
    }
}
