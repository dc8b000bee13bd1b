//! Session lookups, batched. Every authenticated request reads its session joined with
//! its user's view, and under load one query per request spends most of a request's
//! time on the round trip to PostgreSQL and the wake-ups on both sides. So lookups that
//! arrive while earlier ones are in flight go together as one query
//! (`token_hash = ANY($1)`): the group commit of the ledger appender, for reads. No
//! lookup waits for a timer (an idle server sends each alone, at once), and each is read
//! from the database after it was asked, so a session ended before a request arrived is
//! never accepted: nothing is cached.
//!
//! Written here rather than with `async_graphql::dataloader`: that loader batches by
//! waiting a fixed delay, which every request would pay, and it serves GraphQL fields,
//! while the file routes authenticate the same way.

use crate::users::{self, ReadError, SessionJoined, UserView};
use commands::{accounts::SessionRecord, keys::KeyRing};
use sqlx::PgPool;
use std::{collections::HashMap, sync::Arc};
use tokio::sync::{Semaphore, mpsc, oneshot};

/// Lookups sent in one query at most.
const MAX_BATCH: usize = 128;
/// Queries in flight at once: while one is at the database the next gathers. More made
/// smaller batches and fewer lookups a second (`medchain bench api` on 2 cores: 3.7
/// lookups a query and 21k requests/s with 4; 7 and 29k with 2; 15 and 32k with 1);
/// two keep one slow query from holding up every sign-in.
const IN_FLIGHT: usize = 2;

type Answer = Result<Option<SessionJoined>, Arc<sqlx::Error>>;
type Ask = ([u8; 32], oneshot::Sender<Answer>);

/// Cheap to clone: every clone sends to the same batching task.
#[derive(Clone)]
pub struct SessionLookup {
    asks: mpsc::Sender<Ask>,
    keys: KeyRing,
}

impl SessionLookup {
    /// Starts the batching task on the current runtime; it ends when the last clone is
    /// dropped.
    pub fn start(pool: PgPool, keys: KeyRing) -> Self {
        let (asks, asked) = mpsc::channel(4 * MAX_BATCH);
        tokio::spawn(batch_lookups(pool, asked));
        Self { asks, keys }
    }

    /// The session a token hash names, with its user's view (sealed fields opened). The
    /// session's rule is not applied here: pass the record to `Accounts::admit`.
    pub async fn find(
        &self,
        token_hash: &[u8; 32],
    ) -> Result<Option<(SessionRecord, Option<UserView>)>, ReadError> {
        let (reply, answer) = oneshot::channel();
        self.asks
            .send((*token_hash, reply))
            .await
            .map_err(|_| ReadError::Stopped)?;
        match answer.await.map_err(|_| ReadError::Stopped)?? {
            // Opened here, on the asking request's task, so the batching task only waits.
            Some(row) => users::open_session(&self.keys, row).await.map(Some),
            None => Ok(None),
        }
    }
}

async fn batch_lookups(pool: PgPool, mut asked: mpsc::Receiver<Ask>) {
    let in_flight = Arc::new(Semaphore::new(IN_FLIGHT));
    loop {
        // A permit first: while every query is in flight, lookups gather in the channel.
        let Ok(permit) = in_flight.clone().acquire_owned().await else {
            return;
        };
        let Some(first) = asked.recv().await else {
            return;
        };
        let mut batch = vec![first];
        while batch.len() < MAX_BATCH {
            match asked.try_recv() {
                Ok(ask) => batch.push(ask),
                Err(_) => break,
            }
        }
        let pool = pool.clone();
        tokio::spawn(async move {
            answer(&pool, batch).await;
            drop(permit);
        });
    }
}

async fn answer(pool: &PgPool, batch: Vec<Ask>) {
    let mut hashes: Vec<Vec<u8>> = batch.iter().map(|(hash, _)| hash.to_vec()).collect();
    hashes.sort_unstable();
    hashes.dedup();
    match users::by_sessions(pool, &hashes).await {
        Ok(rows) => {
            let found: HashMap<Vec<u8>, SessionJoined> = rows
                .into_iter()
                .map(|row| (row.token_hash.clone(), row))
                .collect();
            for (hash, reply) in batch {
                // A caller that went away needs no answer.
                let _ = reply.send(Ok(found.get(hash.as_slice()).cloned()));
            }
        }
        Err(e) => {
            let e = Arc::new(e);
            for (_, reply) in batch {
                let _ = reply.send(Err(e.clone()));
            }
        }
    }
}
