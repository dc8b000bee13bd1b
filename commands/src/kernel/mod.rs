//! The command kernel: the one place where a command loads a stream, folds it, runs a
//! pure decision, and appends what it decided with the version it read. A lost race (the
//! stream moved between the read and the append) is decided again on the new state, by
//! one policy (`ATTEMPTS`), for every command.
//!
//! - `cache`: states folded lately, per process, so a command reads only what was
//!   appended since.
//! - `snapshots`: states folded to a version, kept in a table, so a long stream (a user
//!   who signed in a hundred thousand times, a record read as often) is folded from its
//!   last snapshot after a restart or in another process, never from its first event.
//!
//! A handler gathers the facts its rule needs (from the ledger, through `load`), then
//! calls `execute` with a closure that asks the domain's decision; the closure runs again
//! on each attempt, so it must not have effects. An effect that must happen before the
//! ledger records the decision (closing sessions before a suspension is recorded, a
//! record's key before its upload) goes in `execute_then`'s hook, which runs after every
//! decision that appends anything, before its append: a race lost to a sign-in must find
//! that sign-in's session closed too.

mod cache;
mod snapshots;

use crate::{CommandError, EventStore, ExpectedVersion, event_store::new_events, keys::KeyRing};
use domain::{Aggregate, DomainEvent, StreamName, account::UserId};
use std::{future::Future, sync::Arc};

/// A lost race is decided again this many times in all before it is reported as a
/// conflict: a stream written that often in a few milliseconds is contended, not racing.
const ATTEMPTS: usize = 3;

/// A state folded from its stream, with the version and seq of the stream's newest event
/// (0 and 0 for a stream that does not exist).
#[derive(Debug, Clone)]
pub struct Loaded<A> {
    pub state: A,
    pub version: i32,
    pub last_seq: i64,
    /// How many events were read from the ledger to make this state: what a load costs,
    /// beyond one snapshot.
    pub read: usize,
}

/// What a decision produced: events to append, and what the caller is told.
#[derive(Debug)]
pub struct Decision<E, T> {
    pub events: Vec<E>,
    pub outcome: T,
    /// Who the events are by, when the decision says otherwise than the command.
    actor: Option<Option<UserId>>,
}

impl<E> Decision<E, ()> {
    /// A decision that only produces events.
    pub fn events(events: Vec<E>) -> Self {
        Self::new(events, ())
    }
}

impl<E, T> Decision<E, T> {
    pub fn new(events: Vec<E>, outcome: T) -> Self {
        Self {
            events,
            outcome,
            actor: None,
        }
    }

    /// The events are by `actor` rather than the command's: a sign-in that failed is
    /// someone's claim to be the person, not the person's act.
    pub fn by(self, actor: Option<UserId>) -> Self {
        Self {
            actor: Some(actor),
            ..self
        }
    }
}

/// A decision carried out.
#[derive(Debug)]
pub struct Executed<A, T> {
    /// The state the decision was made on (before its events).
    pub state: A,
    pub outcome: T,
    /// The seq of the last event appended; when the decision appended nothing, of the
    /// stream's newest event (0 for a stream that does not exist).
    pub seq: i64,
    /// Whether anything was appended.
    pub appended: bool,
    /// The chain hash of the last event appended, when anything was.
    pub hash: Option<domain::ledger::Hash>,
}

/// The kernel, shared by every command handler of a process. Cheap to clone.
#[derive(Clone)]
pub struct Kernel {
    inner: Arc<Inner>,
}

struct Inner {
    store: EventStore,
    /// For the snapshots' MAC.
    keys: KeyRing,
    cache: cache::Cache,
}

impl Kernel {
    pub fn new(store: EventStore, keys: KeyRing) -> Self {
        Self {
            inner: Arc::new(Inner {
                store,
                keys,
                cache: cache::Cache::new(),
            }),
        }
    }

    pub fn store(&self) -> &EventStore {
        &self.inner.store
    }

    pub fn pool(&self) -> &sqlx::PgPool {
        self.inner.store.pool()
    }

    /// The aggregate's state folded from its stream: from the state kept in this process
    /// or the stream's snapshot, with what was appended since applied on top.
    pub async fn load<A: Aggregate>(&self, id: A::Id) -> Result<Loaded<A>, CommandError> {
        let stream = A::stream(id);
        let (start, kept) = match self.inner.cache.get::<A>(&stream) {
            Some(kept) => (kept, true),
            None => {
                let snapshot = snapshots::read::<A>(self.pool(), &self.inner.keys, &stream).await?;
                let start = snapshot.unwrap_or_else(|| Loaded {
                    state: A::new(id),
                    version: 0,
                    last_seq: 0,
                    read: 0,
                });
                (start, false)
            }
        };
        let Loaded {
            mut state,
            version,
            last_seq,
            ..
        } = start;
        let recorded = self.inner.store.read_stream_after(&stream, version).await?;
        for event in &recorded {
            let parsed = A::Event::from_stored(&event.event_type, &event.payload)
                .map_err(CommandError::internal)?;
            state.apply(&parsed);
        }
        let Some(newest) = recorded.last() else {
            let loaded = Loaded {
                state,
                version,
                last_seq,
                read: 0,
            };
            if !kept && version > 0 {
                // From the snapshot: kept, so the next command does not read it again.
                self.inner.cache.put(&stream, &loaded);
            }
            return Ok(loaded);
        };
        let loaded = Loaded {
            state,
            version: newest.version,
            last_seq: newest.seq,
            read: recorded.len(),
        };
        self.keep(&stream, version, &loaded).await;
        Ok(loaded)
    }

    /// Keeps a state that moved on from version `from`: in this process, and as the
    /// stream's snapshot when it passed a multiple of `snapshots::EVERY`.
    async fn keep<A: Aggregate>(&self, stream: &StreamName, from: i32, state: &Loaded<A>) {
        self.inner.cache.put(stream, state);
        if snapshots::due(from, state.version) {
            // A snapshot is only a shortcut: failing to write one costs the next reader
            // time, never correctness, so it does not fail the command.
            if let Err(e) = snapshots::write(self.pool(), &self.inner.keys, stream, state).await {
                tracing::warn!(stream = %stream, error = %e, "could not write a snapshot");
            }
        }
    }

    /// Loads the aggregate, asks `decide`, and appends its events by `actor` at the
    /// version it read; a lost race is decided again on the new state.
    pub async fn execute<A: Aggregate, T>(
        &self,
        id: A::Id,
        actor: Option<UserId>,
        decide: impl FnMut(&A) -> Result<Decision<A::Event, T>, CommandError>,
    ) -> Result<Executed<A, T>, CommandError> {
        self.execute_then(id, actor, decide, || async { Ok(()) })
            .await
    }

    /// `execute`, with `before_append` run after each decision that appends something and
    /// before its append: for what must be done before the ledger says it was (fail
    /// closed). It runs again after a lost race, so it must be safe to repeat (or guard
    /// what must happen once).
    pub async fn execute_then<A: Aggregate, T, Fut>(
        &self,
        id: A::Id,
        actor: Option<UserId>,
        decide: impl FnMut(&A) -> Result<Decision<A::Event, T>, CommandError>,
        before_append: impl FnMut() -> Fut,
    ) -> Result<Executed<A, T>, CommandError>
    where
        Fut: Future<Output = Result<(), CommandError>>,
    {
        self.run(id, actor, None, decide, before_append).await
    }

    /// `execute` on a stream whose id this process has just made (a UUIDv7 minted for
    /// the command): the first decision is made on the empty stream without reading it.
    /// If the stream exists after all, the append at version 0 loses the race and the
    /// decision is made again on what was read, as for any lost race.
    pub async fn execute_new<A: Aggregate, T>(
        &self,
        id: A::Id,
        actor: Option<UserId>,
        decide: impl FnMut(&A) -> Result<Decision<A::Event, T>, CommandError>,
    ) -> Result<Executed<A, T>, CommandError> {
        let empty = Loaded {
            state: A::new(id),
            version: 0,
            last_seq: 0,
            read: 0,
        };
        self.run(id, actor, Some(empty), decide, || async { Ok(()) })
            .await
    }

    /// `execute` on a state the caller loaded a moment ago (to gather a fact from it):
    /// the first decision is made on it without reading the stream again; the append at
    /// its version fails if the stream moved since, and the decision is made again on
    /// what was read, as for any lost race.
    pub async fn execute_on<A: Aggregate, T>(
        &self,
        id: A::Id,
        actor: Option<UserId>,
        loaded: Loaded<A>,
        decide: impl FnMut(&A) -> Result<Decision<A::Event, T>, CommandError>,
    ) -> Result<Executed<A, T>, CommandError> {
        self.run(id, actor, Some(loaded), decide, || async { Ok(()) })
            .await
    }

    async fn run<A: Aggregate, T, Fut>(
        &self,
        id: A::Id,
        actor: Option<UserId>,
        mut first: Option<Loaded<A>>,
        mut decide: impl FnMut(&A) -> Result<Decision<A::Event, T>, CommandError>,
        mut before_append: impl FnMut() -> Fut,
    ) -> Result<Executed<A, T>, CommandError>
    where
        Fut: Future<Output = Result<(), CommandError>>,
    {
        let stream = A::stream(id);
        let mut attempt = 0;
        loop {
            attempt += 1;
            let loaded = match first.take() {
                Some(loaded) => loaded,
                None => self.load::<A>(id).await?,
            };
            let Decision {
                events,
                outcome,
                actor: decided_actor,
            } = decide(&loaded.state)?;
            let actor = decided_actor.unwrap_or(actor);
            if events.is_empty() {
                return Ok(Executed {
                    state: loaded.state,
                    outcome,
                    seq: loaded.last_seq,
                    appended: false,
                    hash: None,
                });
            }
            before_append().await?;
            let new =
                new_events(&events, actor.map(|a| a.as_uuid())).map_err(CommandError::internal)?;
            match self
                .inner
                .store
                .append(&stream, ExpectedVersion::Exact(loaded.version), new)
                .await
            {
                Ok(appended) => {
                    let mut after = loaded.state.clone();
                    for event in &events {
                        after.apply(event);
                    }
                    let after = Loaded {
                        state: after,
                        version: appended.version,
                        last_seq: appended.last_seq,
                        read: 0,
                    };
                    self.keep(&stream, loaded.version, &after).await;
                    return Ok(Executed {
                        state: loaded.state,
                        outcome,
                        seq: appended.last_seq,
                        appended: true,
                        hash: Some(appended.last_hash),
                    });
                }
                Err(crate::AppendError::Conflict { .. }) if attempt < ATTEMPTS => continue,
                Err(e) => return Err(e.into()),
            }
        }
    }
}
