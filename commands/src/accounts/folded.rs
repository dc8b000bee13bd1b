//! The folded states of the user streams used lately, so a command reads and applies only
//! the events appended since. A user's stream grows by an event at every sign-in; before
//! this, every command read and folded all of it, so a sign-in cost more each time.
//!
//! Nothing here needs invalidating: the ledger is append-only, so a state folded up to
//! version v stays the fold of the stream's first v events, and whatever came after
//! (from this process or another) is read and applied on top. A kept state holds only
//! what the events hold, sealed fields included: after an erasure nothing can open them.

use domain::account::{User, UserId};
use lru::LruCache;
use std::{
    num::NonZeroUsize,
    sync::{Arc, Mutex},
};

/// Users whose state is kept; a stream not kept is simply read whole.
const KEEP: NonZeroUsize = NonZeroUsize::new(4_096).expect("not zero");
/// A state is a few sealed fields plus its open sessions, and a session nobody closed
/// stays open in it: the kept states together may hold this many sessions (some 50 MB),
/// the least recently used going first, so a few accounts signed in without end cannot
/// make the cache large.
const KEEP_SESSIONS: usize = 1_000_000;
/// A state with more open sessions than this is not kept: it would crowd out hundreds of
/// others, and is read whole as before.
const KEEP_SESSIONS_EACH: usize = 10_000;

pub(super) struct Folded(Mutex<Kept>);

struct Kept {
    /// Shared, so a lookup clones a pointer under the lock, not the state.
    states: LruCache<UserId, (Arc<User>, i32)>,
    sessions: usize,
    max_sessions: usize,
    max_each: usize,
}

impl Folded {
    pub(super) fn new() -> Self {
        Self::with_limits(KEEP, KEEP_SESSIONS, KEEP_SESSIONS_EACH)
    }

    fn with_limits(states: NonZeroUsize, max_sessions: usize, max_each: usize) -> Self {
        Self(Mutex::new(Kept {
            states: LruCache::new(states),
            sessions: 0,
            max_sessions,
            max_each,
        }))
    }

    /// The kept state of `id` with the version it is folded up to.
    pub(super) fn get(&self, id: UserId) -> Option<(User, i32)> {
        let (user, version) = self.lock().states.get(&id).cloned()?;
        Some((Arc::unwrap_or_clone(user), version))
    }

    /// Keeps `user`, folded up to `version`, unless a later one is kept already.
    pub(super) fn put(&self, user: &User, version: i32) {
        let weight = user.open_session_count();
        let mut kept = self.lock();
        if kept
            .states
            .peek(&user.id())
            .is_some_and(|(_, v)| *v >= version)
        {
            return;
        }
        if weight > kept.max_each {
            // Too large to keep: an older one kept would only be read on top of again.
            if let Some((old, _)) = kept.states.pop(&user.id()) {
                kept.sessions -= old.open_session_count();
            }
            return;
        }
        if let Some((_, (old, _))) = kept
            .states
            .push(user.id(), (Arc::new(user.clone()), version))
        {
            kept.sessions -= old.open_session_count();
        }
        kept.sessions += weight;
        while kept.sessions > kept.max_sessions {
            let Some((_, (old, _))) = kept.states.pop_lru() else {
                break;
            };
            kept.sessions -= old.open_session_count();
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Kept> {
        // Nothing panics while holding it, and a kept state is whole either way.
        self.0.lock().unwrap_or_else(|e| e.into_inner())
    }
}

#[cfg(test)]
mod tests {
    use super::Folded;
    use domain::{
        Timestamp,
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
            }));
        }
        user
    }

    #[test]
    fn the_open_sessions_of_kept_states_stay_under_the_limit() {
        let folded = Folded::with_limits(NonZeroUsize::new(10).unwrap(), 10, 6);
        let (a, b, c) = (signed_in(4), signed_in(4), signed_in(4));
        folded.put(&a, 1);
        folded.put(&b, 1);
        assert!(folded.get(a.id()).is_some());
        // 12 sessions would be too many: the least recently used (b) goes.
        folded.put(&c, 1);
        assert!(folded.get(b.id()).is_none());
        assert!(folded.get(a.id()).is_some() && folded.get(c.id()).is_some());
        // A state larger than the limit for one is not kept.
        let large = signed_in(7);
        folded.put(&large, 1);
        assert!(folded.get(large.id()).is_none());
        assert!(folded.get(a.id()).is_some());
        // A newer version of a kept state replaces it, and its sessions are counted once.
        folded.put(&signed_in(0), 1);
        let mut a2 = a.clone();
        a2.apply(&UserEvent::LoginSucceeded(LoginSucceeded {
            session: Uuid::new_v4(),
            expires_at: Timestamp::from_micros(1),
        }));
        folded.put(&a2, 2);
        assert_eq!(
            folded.get(a.id()).map(|(u, v)| (u.open_session_count(), v)),
            Some((5, 2))
        );
        assert!(folded.get(c.id()).is_some(), "5 + 4 sessions fit");
    }

    #[test]
    fn keeps_the_latest_version_only() {
        let folded = Folded::new();
        let id = UserId::from_uuid(Uuid::new_v4());
        assert!(folded.get(id).is_none());
        folded.put(&User::new(id), 3);
        folded.put(&User::new(id), 2);
        assert_eq!(folded.get(id).map(|(_, v)| v), Some(3));
        folded.put(&User::new(id), 5);
        assert_eq!(folded.get(id).map(|(_, v)| v), Some(5));
    }
}
