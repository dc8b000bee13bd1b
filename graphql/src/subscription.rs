//! `Subscription`: live streams over graphql-transport-ws. The connection is
//! authenticated in `connection_init` (transport.rs); each field checks its own rule.

use crate::{
    context::{admin, caller, services},
    error::ToGql as _,
    scalars::Long,
    types::{ledger_event::LedgerEvent, notification::Notification},
};
use async_graphql::{Context, Result, Subscription as SubscriptionTrait};
use futures::{Stream, stream};
use projections::notifications::NotificationRow;
use std::{collections::VecDeque, sync::Arc, time::Duration};

pub struct Subscription;

/// A `notifications` subscription: catching up on what it missed, then fed by the hub.
struct Catching {
    /// Where the catch-up reads from next.
    next: i64,
    /// The last notification sent, in `(seq, id)` order.
    sent: (i64, uuid::Uuid),
    caught_up: bool,
    buffer: VecDeque<Arc<NotificationRow>>,
    feed: tokio::sync::mpsc::UnboundedReceiver<Arc<NotificationRow>>,
    pool: sqlx::PgPool,
}

const PAGE: i64 = 500;
/// Looks again this often even without a NOTIFY, so a lost one only delays.
const POLL: Duration = Duration::from_secs(1);

#[SubscriptionTrait]
impl Subscription {
    /// The caller's notifications (by their preferences): first those after `afterSeq`
    /// (none missed across a reconnect, none twice), then live ones, from whichever
    /// server process produced them; without `afterSeq`, live only. Ends when the
    /// session does (transport).
    async fn notifications(
        &self,
        ctx: &Context<'_>,
        after_seq: Option<Long>,
    ) -> Result<impl Stream<Item = Notification> + use<>> {
        let caller = caller(ctx)?;
        let s = services(ctx);
        let user = caller.user;
        let viewer = caller.viewer();
        // Registered before catching up, so nothing falls between the two (hub module).
        let feed = s.notices.subscribe(user.as_uuid());
        // The catch-up reads a replica that has replayed all the primary had committed
        // once the subscription was registered: what it lacks, the hub hands over.
        let pool = match &s.replicas {
            Some(replicas) => replicas
                .caught_up(&s.pool)
                .await
                .unwrap_or_else(|| s.pool.clone()),
            None => s.pool.clone(),
        };
        let start = match after_seq {
            Some(Long(seq)) => seq,
            None => projections::notifications::newest_seq(&pool, user)
                .await
                .map_err(|e| e.gql())?,
        };
        let state = Catching {
            next: start,
            sent: (start, uuid::Uuid::max()),
            caught_up: false,
            buffer: VecDeque::new(),
            feed,
            pool,
        };
        Ok(stream::unfold(state, move |mut state| async move {
            loop {
                if let Some(row) = state.buffer.pop_front() {
                    // What the catch-up and the hub both had goes once.
                    if (row.seq, row.id) <= state.sent {
                        continue;
                    }
                    state.sent = (row.seq, row.id);
                    let row = Arc::unwrap_or_clone(row);
                    return Some((Notification { row, viewer }, state));
                }
                if state.caught_up {
                    state.buffer.push_back(state.feed.recv().await?);
                    continue;
                }
                match projections::notifications::after(&state.pool, user, state.next, PAGE).await {
                    Ok(rows) if rows.is_empty() => state.caught_up = true,
                    Ok(rows) => {
                        state.next = rows.last().map_or(state.next, |r| r.seq);
                        state.buffer.extend(rows.into_iter().map(Arc::new));
                    }
                    Err(e) => {
                        tracing::warn!(error = %e, "notifications could not be read; retrying");
                        tokio::time::sleep(POLL).await;
                    }
                }
            }
        }))
    }

    /// Administrators: every ledger event from `fromSeq` (default: the next one), then
    /// live, in order, none missed.
    async fn ledger_events(
        &self,
        ctx: &Context<'_>,
        from_seq: Option<Long>,
    ) -> Result<impl Stream<Item = LedgerEvent> + use<>> {
        admin(ctx)?;
        let s = services(ctx);
        let pool = s.pool.clone();
        let head = s.projections.head();
        let start = match from_seq {
            Some(Long(seq)) => seq.max(1),
            None => {
                commands::ledger::ledger_head(&pool)
                    .await
                    .map_err(|e| e.gql())?
                    .seq
                    + 1
            }
        };
        Ok(stream::unfold(
            (start, VecDeque::new(), head, pool),
            |(mut next, mut buffer, mut head, pool)| async move {
                loop {
                    if let Some(event) = buffer.pop_front() {
                        return Some((LedgerEvent::from(event), (next, buffer, head, pool)));
                    }
                    match commands::event_store::read_all_from(&pool, next, PAGE).await {
                        Ok(events) if !events.is_empty() => {
                            next = events.last().map_or(next, |e| e.seq + 1);
                            buffer.extend(events);
                        }
                        Ok(_) => {
                            tokio::select! {
                                changed = head.changed() => if changed.is_err() { return None },
                                _ = tokio::time::sleep(POLL) => {}
                            }
                        }
                        Err(e) => {
                            tracing::warn!(error = %e, "ledger tail could not read; retrying");
                            tokio::time::sleep(POLL).await;
                        }
                    }
                }
            },
        ))
    }
}
