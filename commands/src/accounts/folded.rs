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
use std::{num::NonZeroUsize, sync::Mutex};

/// Users whose state is kept: a state is small (a few sealed fields, open sessions), and
/// a stream not kept is simply read whole.
const KEEP: NonZeroUsize = NonZeroUsize::new(4_096).expect("not zero");

pub(super) struct Folded(Mutex<LruCache<UserId, (User, i32)>>);

impl Folded {
    pub(super) fn new() -> Self {
        Self(Mutex::new(LruCache::new(KEEP)))
    }

    /// The kept state of `id` with the version it is folded up to.
    pub(super) fn get(&self, id: UserId) -> Option<(User, i32)> {
        self.lock().get(&id).cloned()
    }

    /// Keeps `user`, folded up to `version`, unless a later one is kept already.
    pub(super) fn put(&self, user: &User, version: i32) {
        let mut kept = self.lock();
        if kept.peek(&user.id()).is_none_or(|(_, v)| *v < version) {
            kept.put(user.id(), (user.clone(), version));
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, LruCache<UserId, (User, i32)>> {
        // Nothing panics while holding it, and a kept state is whole either way.
        self.0.lock().unwrap_or_else(|e| e.into_inner())
    }
}

#[cfg(test)]
mod tests {
    use super::Folded;
    use domain::account::{User, UserId};
    use uuid::Uuid;

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
