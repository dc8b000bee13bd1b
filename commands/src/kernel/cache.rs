//! The states folded lately, per process, so a command reads and applies only the events
//! appended since. Any aggregate's state is kept, under its stream's name.
//!
//! Nothing here needs invalidating: the ledger is append-only, so a state folded up to
//! version v stays the fold of the stream's first v events, and whatever came after
//! (from this process or another) is read and applied on top. A kept state holds only
//! what the events hold, sealed fields included: after an erasure nothing can open them.

use super::Loaded;
use domain::{Aggregate, StreamName};
use lru::LruCache;
use std::{
    any::Any,
    num::NonZeroUsize,
    sync::{Arc, Mutex},
};

/// Streams whose state is kept; a stream not kept is read from its snapshot.
const KEEP: NonZeroUsize = NonZeroUsize::new(4_096).expect("not zero");
/// The kept states together may weigh this much (`Aggregate::weight`: a user's open
/// sessions count one each, some 50 bytes), the least recently used going first, so a
/// few accounts signed in without end cannot make the cache large.
const KEEP_WEIGHT: usize = 1_000_000;
/// A state heavier than this is not kept: it would crowd out hundreds of others.
const KEEP_WEIGHT_EACH: usize = 10_000;

pub(super) struct Cache(Mutex<Kept>);

struct Entry {
    /// Shared, so a lookup clones a pointer under the lock, not the state.
    state: Arc<dyn Any + Send + Sync>,
    version: i32,
    last_seq: i64,
    weight: usize,
}

struct Kept {
    states: LruCache<StreamName, Entry>,
    weight: usize,
    max_weight: usize,
    max_each: usize,
}

impl Cache {
    pub(super) fn new() -> Self {
        Self::with_limits(KEEP, KEEP_WEIGHT, KEEP_WEIGHT_EACH)
    }

    fn with_limits(states: NonZeroUsize, max_weight: usize, max_each: usize) -> Self {
        Self(Mutex::new(Kept {
            states: LruCache::new(states),
            weight: 0,
            max_weight,
            max_each,
        }))
    }

    /// The kept state of `stream` with the version it is folded up to.
    pub(super) fn get<A: Aggregate>(&self, stream: &StreamName) -> Option<Loaded<A>> {
        let (state, version, last_seq) = {
            let mut kept = self.lock();
            let entry = kept.states.get(stream)?;
            (entry.state.clone(), entry.version, entry.last_seq)
        };
        let state = state.downcast::<A>().ok()?;
        Some(Loaded {
            state: Arc::unwrap_or_clone(state),
            version,
            last_seq,
            read: 0,
        })
    }

    /// Keeps `loaded` for `stream`, unless a later version is kept already.
    pub(super) fn put<A: Aggregate>(&self, stream: &StreamName, loaded: &Loaded<A>) {
        let weight = loaded.state.weight();
        let mut kept = self.lock();
        if kept
            .states
            .peek(stream)
            .is_some_and(|e| e.version >= loaded.version)
        {
            return;
        }
        if weight > kept.max_each {
            // Too heavy to keep: an older one kept would only be read on top of again.
            if let Some(old) = kept.states.pop(stream) {
                kept.weight -= old.weight;
            }
            return;
        }
        let entry = Entry {
            state: Arc::new(loaded.state.clone()),
            version: loaded.version,
            last_seq: loaded.last_seq,
            weight,
        };
        if let Some((_, old)) = kept.states.push(stream.clone(), entry) {
            kept.weight -= old.weight;
        }
        kept.weight += weight;
        while kept.weight > kept.max_weight {
            let Some((_, old)) = kept.states.pop_lru() else {
                break;
            };
            kept.weight -= old.weight;
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Kept> {
        // Nothing panics while holding it, and a kept state is whole either way.
        self.0.lock().unwrap_or_else(|e| e.into_inner())
    }
}

#[cfg(test)]
mod tests {
    use super::{Cache, Loaded};
    use domain::{
        Aggregate, Timestamp,
        account::{
            User, UserId,
            user::{LoginSucceeded, UserEvent},
        },
    };
    use std::num::NonZeroUsize;
    use uuid::Uuid;

    /// A user with `n` sessions open.
    fn signed_in(n: usize) -> User {
        let mut user = User::new(UserId::from_uuid(Uuid::new_v4()));
        for _ in 0..n {
            user.apply(&UserEvent::LoginSucceeded(LoginSucceeded {
                session: Uuid::new_v4(),
                expires_at: Timestamp::from_micros(1),
                factor: None,
            }));
        }
        user
    }

    fn put(cache: &Cache, user: &User, version: i32) {
        let loaded = Loaded {
            state: user.clone(),
            version,
            last_seq: i64::from(version),
            read: 0,
        };
        cache.put(&User::stream(user.id()), &loaded);
    }

    fn get(cache: &Cache, user: &User) -> Option<Loaded<User>> {
        cache.get::<User>(&User::stream(user.id()))
    }

    #[test]
    fn the_weight_of_kept_states_stays_under_the_limit() {
        // A user with 4 open sessions weighs 5.
        let cache = Cache::with_limits(NonZeroUsize::new(10).unwrap(), 12, 7);
        let (a, b, c) = (signed_in(4), signed_in(4), signed_in(4));
        put(&cache, &a, 1);
        put(&cache, &b, 1);
        assert!(get(&cache, &a).is_some());
        // 15 would be too much: the least recently used (b) goes.
        put(&cache, &c, 1);
        assert!(get(&cache, &b).is_none());
        assert!(get(&cache, &a).is_some() && get(&cache, &c).is_some());
        // A state heavier than the limit for one is not kept.
        let heavy = signed_in(7);
        put(&cache, &heavy, 1);
        assert!(get(&cache, &heavy).is_none());
        assert!(get(&cache, &a).is_some());
        // A newer version of a kept state replaces it, and its weight counts once.
        let mut a2 = a.clone();
        a2.apply(&UserEvent::LoginSucceeded(LoginSucceeded {
            session: Uuid::new_v4(),
            expires_at: Timestamp::from_micros(1),
            factor: None,
        }));
        put(&cache, &a2, 2);
        assert_eq!(
            get(&cache, &a).map(|l| (l.state.open_session_count(), l.version)),
            Some((5, 2))
        );
        assert!(get(&cache, &c).is_some(), "6 + 5 fit");
    }

    #[test]
    fn keeps_the_latest_version_only() {
        let cache = Cache::new();
        let user = User::new(UserId::from_uuid(Uuid::new_v4()));
        assert!(get(&cache, &user).is_none());
        put(&cache, &user, 3);
        put(&cache, &user, 2);
        assert_eq!(get(&cache, &user).map(|l| l.version), Some(3));
        put(&cache, &user, 5);
        assert_eq!(get(&cache, &user).map(|l| l.last_seq), Some(5));
    }
}
