//! Notifications: their kinds and defaults, and each person's preferences. Which event
//! notifies whom is the notifications projector's (it reads the ledger); messages are
//! composed when read, from what the reader may see then.

pub mod kind;
pub mod preferences;

pub use kind::{NotificationKind, UnknownKind};
pub use preferences::{Preference, PreferenceError, Preferences};
