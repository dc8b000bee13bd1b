//! `Subscription`: live streams over graphql-transport-ws. The connection is
//! authenticated in `connection_init` (transport.rs); each field checks its own rule.

use crate::{
    context::{admin, caller, services},
    error::{Code, ToGql as _, error},
    scalars::Long,
    types::{ledger_event::LedgerEvent, notification::Notification},
};
use async_graphql::{Context, Result, Subscription as SubscriptionTrait};
use futures::{Stream, stream};
use std::{collections::VecDeque, time::Duration};

pub struct Subscription;

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
        let pool = s.pool.clone();
        let user = caller.user;
        let viewer = caller.viewer();
        let moved = s
            .projections
            .watch("notifications")
            .ok_or_else(|| error(Code::Internal, "internal error"))?;
        let start = match after_seq {
            Some(Long(seq)) => seq,
            None => projections::notifications::newest_seq(&pool, user)
                .await
                .map_err(|e| e.gql())?,
        };
        Ok(stream::unfold(
            (start, VecDeque::new(), moved, pool),
            move |(mut next, mut buffer, mut moved, pool)| async move {
                loop {
                    if let Some(row) = buffer.pop_front() {
                        let node = Notification { row, viewer };
                        return Some((node, (next, buffer, moved, pool)));
                    }
                    match projections::notifications::after(&pool, user, next, PAGE).await {
                        Ok(rows) if !rows.is_empty() => {
                            next = rows.last().map_or(next, |r| r.seq);
                            buffer.extend(rows);
                        }
                        Ok(_) => {
                            tokio::select! {
                                changed = moved.changed() => if changed.is_err() { return None },
                                _ = tokio::time::sleep(POLL) => {}
                            }
                        }
                        Err(e) => {
                            tracing::warn!(error = %e, "notifications could not be read; retrying");
                            tokio::time::sleep(POLL).await;
                        }
                    }
                }
            },
        ))
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
