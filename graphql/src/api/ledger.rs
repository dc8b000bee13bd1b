//! The administrators' view of the ledger in `Query` and `Mutation`: the dashboard, the
//! ledger (pages, head, verification, the event types it can hold) and checkpoints. Every field is for administrators only; none of
//! it reads medical content.

use crate::{
    context::{admin, services},
    error::ToGql as _,
    scalars::Long,
    types::{
        admin::{
            DayCount, LedgerEventConnection, LedgerEventEdge, LedgerHead, LedgerVerification,
            SystemStats, UserCounts,
        },
        ledger_event::LedgerEvent,
        page::{page, page_size, parse_seq_cursor, seq_cursor},
    },
};
use async_graphql::{Context, Object, Result};
use commands::{
    event_store::{LedgerFilter, read_page},
    ledger::{ledger_head, verify_against_checkpoints},
};

#[derive(Default)]
pub struct LedgerQuery;

fn count(n: i64) -> i32 {
    i32::try_from(n).unwrap_or(i32::MAX)
}

#[Object]
impl LedgerQuery {
    /// Why this server takes no writes, when it does not (anyone may ask, signed in or
    /// not): its ledger was restored short of the newest head that was signed, and
    /// writing on would fork the log witnesses hold. `null` when it takes writes.
    async fn read_only(&self, ctx: &Context<'_>) -> Result<Option<String>> {
        commands::ledger::frozen(&services(ctx).pool)
            .await
            .map_err(|e| e.gql())
    }

    /// Administrators: the dashboard's figures, from the views (never a scan of the
    /// ledger) and the checkpoint store.
    async fn stats(&self, ctx: &Context<'_>) -> Result<SystemStats> {
        admin(ctx)?;
        let s = services(ctx);
        let users = projections::users::counts(&s.pool)
            .await
            .map_err(|e| e.gql())?;
        let records = projections::records::stats(&s.pool, s.clock.now())
            .await
            .map_err(|e| e.gql())?;
        let head = ledger_head(&s.pool).await.map_err(|e| e.gql())?;
        let checkpoints = s.checkpoints.seqs().await.map_err(|e| e.gql())?;
        Ok(SystemStats {
            users: UserCounts {
                patients: count(users.patients),
                doctors: count(users.doctors),
                admins: count(users.admins),
                pending: count(users.pending),
            },
            records: count(records.records),
            stored_bytes: Long(records.stored_bytes),
            active_shares: count(records.active_shares),
            // seq has no gaps: the head's seq is the number of events.
            events: Long(head.seq),
            checkpoints: count(checkpoints.len() as i64),
            last_checkpoint_seq: checkpoints.last().copied().map(Long),
            ledger_head: head.into(),
        })
    }

    /// Administrators: the name of every event type the ledger can hold, sorted (the
    /// ledger browser's type filter offers them).
    async fn ledger_event_types(&self, ctx: &Context<'_>) -> Result<Vec<&'static str>> {
        admin(ctx)?;
        Ok(domain::domain_event::all_event_types())
    }

    /// Administrators: ledger events in seq order, from `fromSeq`, of one `type` and/or
    /// one `stream`. Sealed fields are ciphertext here as they are in the ledger.
    #[graphql(complexity = "crate::types::page::cost(first, child_complexity)")]
    async fn ledger(
        &self,
        ctx: &Context<'_>,
        from_seq: Option<Long>,
        #[graphql(name = "type")] event_type: Option<String>,
        stream: Option<String>,
        first: Option<i32>,
        after: Option<String>,
    ) -> Result<LedgerEventConnection> {
        admin(ctx)?;
        let s = services(ctx);
        let limit = page_size(first)?;
        let after = after.as_deref().map(parse_seq_cursor).transpose()?;
        let blank = |v: Option<String>| v.map(|v| v.trim().to_owned()).filter(|v| !v.is_empty());
        let filter = LedgerFilter {
            from_seq: from_seq.map(|Long(n)| n),
            event_type: blank(event_type),
            stream: blank(stream),
        };
        let events = read_page(&s.pool, &filter, after, limit + 1)
            .await
            .map_err(|e| e.gql())?;
        let (edges, page_info) = page(events, limit, |e| {
            Some(LedgerEventEdge {
                cursor: seq_cursor(e.seq),
                node: LedgerEvent::from(e),
            })
        });
        Ok(LedgerEventConnection { edges, page_info })
    }

    /// Administrators: events recorded per UTC day over the last `days` (1–366, default
    /// 14), oldest first, every day listed (0 when quiet): the dashboard's chart.
    async fn events_per_day(
        &self,
        ctx: &Context<'_>,
        #[graphql(default = 14)] days: i32,
    ) -> Result<Vec<DayCount>> {
        admin(ctx)?;
        if !(1..=366).contains(&days) {
            return Err(crate::error::error(
                crate::error::Code::BadUserInput,
                "days is from 1 to 366",
            ));
        }
        let s = services(ctx);
        let today = s.clock.now().to_datetime().date_naive();
        let first = today - chrono::Days::new(u64::try_from(days - 1).unwrap_or(0));
        let since = domain::Timestamp::from_datetime(
            first.and_hms_opt(0, 0, 0).unwrap_or_default().and_utc(),
        );
        let counted = commands::ledger::activity::events_per_day(&s.pool, since)
            .await
            .map_err(|e| e.gql())?;
        let counts: std::collections::HashMap<String, i64> = counted.into_iter().collect();
        Ok(first
            .iter_days()
            .take_while(|d| *d <= today)
            .map(|d| {
                let day = d.format("%Y-%m-%d").to_string();
                DayCount {
                    events: Long(counts.get(&day).copied().unwrap_or(0)),
                    day,
                }
            })
            .collect())
    }

    /// Administrators: the last event's seq, hash and time.
    async fn ledger_head(&self, ctx: &Context<'_>) -> Result<LedgerHead> {
        admin(ctx)?;
        let head = ledger_head(&services(ctx).pool)
            .await
            .map_err(|e| e.gql())?;
        Ok(head.into())
    }

    /// Administrators: the chain recomputed from seq 1 and held to the newest signed
    /// checkpoint: the same code as `medchain ledger verify`.
    async fn verify_ledger(&self, ctx: &Context<'_>) -> Result<LedgerVerification> {
        admin(ctx)?;
        let s = services(ctx);
        let head = ledger_head(&s.pool).await.map_err(|e| e.gql())?;
        let check =
            verify_against_checkpoints(&s.pool, &s.checkpoints, Some(&s.ledger_key.public()))
                .await
                .map_err(|e| e.gql())?;
        if let Err(problem) = &check.outcome {
            tracing::warn!(%problem, "ledger verification failed");
        }
        Ok(LedgerVerification::new(check, head))
    }
}

#[derive(Default)]
pub struct LedgerMutation;

#[Object]
impl LedgerMutation {
    /// Administrators: sign the ledger's head now and store it outside the database.
    async fn checkpoint_ledger(&self, ctx: &Context<'_>) -> Result<LedgerHead> {
        let caller = admin(ctx)?;
        let s = services(ctx);
        // A signed tree head at the ledger's head: wait for the tree to reach it.
        let head = commands::ledger::ledger_head(&s.pool)
            .await
            .map_err(|e| e.gql())?;
        s.caught_up(&[projections::merkle::NAME], head.seq).await?;
        let tree = projections::merkle::head(&s.pool, &s.tree_nodes, head.seq)
            .await
            .map_err(|e| e.gql())?;
        let (signed, location) = s
            .checkpoints
            .write(&s.pool, &s.ledger_key, s.clock.as_ref(), tree)
            .await
            .map_err(|e| e.gql())?;
        tracing::info!(admin = %caller.user, seq = signed.checkpoint.seq, %location, "checkpoint written");
        let at = commands::ledger::time_of(&s.pool, signed.checkpoint.seq)
            .await
            .map_err(|e| e.gql())?;
        Ok(LedgerHead {
            seq: Long(signed.checkpoint.seq),
            hash: signed.checkpoint.hash.to_hex(),
            at: at.map(crate::scalars::DateTime),
        })
    }
}
