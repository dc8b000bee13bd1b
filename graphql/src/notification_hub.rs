//! One reader of new notifications per process, for every open `notifications`
//! subscription. When the notifications view moves (this process's projector, or a NOTIFY
//! from another's), the hub reads the new rows of every subscribed user in one query and
//! hands each to its user's subscriptions. Before, each subscription queried on its own
//! at every move of the view, so a thousand open subscriptions meant a thousand queries
//! per event, and the one that mattered waited behind the rest.
//!
//! A subscription registers before it catches up on what it missed (its own query), so a
//! row is either in that catch-up or handed over by the hub afterwards, and possibly both:
//! the subscription drops what it has already sent (by `(seq, id)`, the order of both).
//!
//! With replicas (`MEDCHAIN_REPLICA_URLS`) the rows are read from one that has replayed
//! all the primary had committed when the view moved (`Replicas::caught_up`: one small
//! round trip to the primary for its WAL position, instead of the read itself, whose cost
//! grows with the subscribers); the primary answers when none has.

use crate::replicas::Replicas;
use projections::{Progress, notifications::NotificationRow};
use sqlx::PgPool;
use std::{
    collections::HashMap,
    sync::{Arc, Mutex},
    time::Duration,
};
use tokio::sync::{mpsc, watch};
use uuid::Uuid;

/// Looks again this often even without a move of the view, so a lost NOTIFY only delays.
const POLL: Duration = Duration::from_secs(1);

type Subscribers = HashMap<Uuid, Vec<mpsc::UnboundedSender<Arc<NotificationRow>>>>;

#[derive(Clone)]
pub struct NotificationHub {
    subscribers: Arc<Mutex<Subscribers>>,
}

impl NotificationHub {
    /// Starts the hub's reader, which follows `moved` (the notifications view's progress)
    /// until every handle is dropped and the view's sender is gone.
    pub fn start(
        pool: PgPool,
        replicas: Option<Arc<Replicas>>,
        moved: watch::Receiver<Progress>,
    ) -> Self {
        let subscribers = Arc::new(Mutex::new(Subscribers::new()));
        tokio::spawn(fan_out(pool, replicas, moved, Arc::downgrade(&subscribers)));
        Self { subscribers }
    }

    /// A subscription's feed of `user`'s new notifications, in `(seq, id)` order.
    pub fn subscribe(&self, user: Uuid) -> mpsc::UnboundedReceiver<Arc<NotificationRow>> {
        let (sender, receiver) = mpsc::unbounded_channel();
        self.lock().entry(user).or_default().push(sender);
        receiver
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Subscribers> {
        self.subscribers.lock().expect("not poisoned")
    }
}

async fn fan_out(
    pool: PgPool,
    replicas: Option<Arc<Replicas>>,
    mut moved: watch::Receiver<Progress>,
    subscribers: std::sync::Weak<Mutex<Subscribers>>,
) {
    // Rows up to here are what subscriptions opened from now on catch up on themselves.
    let mut read_to = moved.borrow_and_update().seq;
    loop {
        let polled = tokio::select! {
            changed = moved.changed() => if changed.is_err() { return } else { None },
            _ = tokio::time::sleep(POLL) => Some(stored_progress(&pool).await),
        };
        let Some(subscribers) = subscribers.upgrade() else {
            return;
        };
        let to = moved
            .borrow_and_update()
            .seq
            .max(polled.unwrap_or_default());
        if to <= read_to {
            continue;
        }
        let users: Vec<Uuid> = {
            let mut all = subscribers.lock().expect("not poisoned");
            all.retain(|_, senders| {
                senders.retain(|s| !s.is_closed());
                !senders.is_empty()
            });
            all.keys().copied().collect()
        };
        if users.is_empty() {
            read_to = to;
            continue;
        }
        // The view's rows up to `to` are committed: a replica past the primary's position
        // now holds them.
        let read_from = match &replicas {
            Some(replicas) => replicas
                .caught_up(&pool)
                .await
                .unwrap_or_else(|| pool.clone()),
            None => pool.clone(),
        };
        let rows: Vec<NotificationRow> = match sqlx::query_as(
            "SELECT id, user_id, kind, seq, record_id, subject_id, detail, created_at, read_seq \
             FROM notifications WHERE user_id = ANY($1) AND seq > $2 AND seq <= $3 \
             ORDER BY seq, id",
        )
        .bind(&users)
        .bind(read_to)
        .bind(to)
        .fetch_all(&read_from)
        .await
        {
            Ok(rows) => rows,
            Err(e) => {
                // Not moved on: the next round reads the same rows again.
                tracing::warn!(error = %e, "new notifications could not be read; retrying");
                continue;
            }
        };
        read_to = to;
        let all = subscribers.lock().expect("not poisoned");
        for row in rows {
            let row = Arc::new(row);
            for sender in all.get(&row.user_id).into_iter().flatten() {
                let _ = sender.send(row.clone());
            }
        }
    }
}

/// Where the view's checkpoint row stands: what the poll goes by when a NOTIFY from
/// another process was lost (a batch writes its rows and the row at once).
async fn stored_progress(pool: &PgPool) -> i64 {
    sqlx::query_scalar("SELECT last_seq FROM projection_checkpoints WHERE name = 'notifications'")
        .fetch_optional(pool)
        .await
        .ok()
        .flatten()
        .unwrap_or_default()
}
