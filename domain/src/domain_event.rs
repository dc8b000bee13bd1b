//! What every aggregate's events share: a type name kept beside the payload in the ledger
//! row, a payload (the event struct's serde JSON), and reading both back.
//!
//! An aggregate's event enum is declared with `domain_events!`, which takes each event's
//! type name from its struct's name: the name is said once, and the enum's `TYPES`, its
//! reading back, and every event struct's `EventName::NAME` (what a projector's filter is
//! made of) all come from that one place.

use serde_json::Value;

/// An aggregate's event, as the ledger stores it.
pub trait DomainEvent: Sized {
    /// Every type the aggregate's stream may hold.
    const TYPES: &'static [&'static str];
    fn event_type(&self) -> &'static str;
    fn payload(&self) -> Value;
    fn from_stored(event_type: &str, payload: &Value) -> Result<Self, UnknownEvent>;
}

/// The ledger's type name of one event struct; `domain_events!` implements it.
pub trait EventName {
    const NAME: &'static str;
}

/// The type names of every event any stream may hold, sorted: what the ledger can contain.
pub fn all_event_types() -> Vec<&'static str> {
    use crate::{
        account::UserEvent,
        emergency::EmergencyEvent,
        erasure::{ErasureEvent, KeyEpochEvent, LegalHoldEvent},
        link::ShareLinkEvent,
        proxy::ProxyEvent,
        record::RecordEvent,
    };
    let mut all: Vec<_> = [
        UserEvent::TYPES,
        RecordEvent::TYPES,
        KeyEpochEvent::TYPES,
        ErasureEvent::TYPES,
        LegalHoldEvent::TYPES,
        EmergencyEvent::TYPES,
        ShareLinkEvent::TYPES,
        ProxyEvent::TYPES,
    ]
    .concat();
    all.sort_unstable();
    all
}

#[derive(Debug, Clone, thiserror::Error, PartialEq, Eq)]
pub enum UnknownEvent {
    #[error("there is no event of type {0:?} in this stream")]
    Type(String),
    #[error("the payload of a {event_type} event does not have its shape: {reason}")]
    Payload {
        event_type: &'static str,
        reason: String,
    },
}

/// A stored payload read as the event struct of `event_type`.
pub fn read_payload<T: serde::de::DeserializeOwned>(
    event_type: &'static str,
    payload: &Value,
) -> Result<T, UnknownEvent> {
    T::deserialize(payload).map_err(|e| UnknownEvent::Payload {
        event_type,
        reason: e.to_string(),
    })
}

/// Declares an aggregate's event enum over its event structs (each `Serialize +
/// Deserialize`): one variant per struct, named like it, and that name is the event's
/// type on the ledger. Generates `TYPES`, `event_type`, `payload`, `from_stored`,
/// `From<Struct>` and `EventName` for each struct, and `DomainEvent`.
#[macro_export]
macro_rules! domain_events {
    ($(#[$meta:meta])* $vis:vis enum $enum:ident { $($name:ident),+ $(,)? }) => {
        $(#[$meta])*
        #[derive(Debug, Clone, PartialEq, Eq)]
        $vis enum $enum {
            $($name($name)),+
        }

        impl $enum {
            /// Every type this aggregate's stream may hold.
            pub const TYPES: &'static [&'static str] = &[$(stringify!($name)),+];

            pub fn event_type(&self) -> &'static str {
                match self {
                    $($enum::$name(_) => stringify!($name)),+
                }
            }

            pub fn payload(&self) -> serde_json::Value {
                let value = match self {
                    $($enum::$name(e) => serde_json::to_value(e)),+
                };
                value.expect("strings, UUIDs and options always serialize")
            }

            pub fn from_stored(
                event_type: &str,
                payload: &serde_json::Value,
            ) -> Result<Self, $crate::domain_event::UnknownEvent> {
                Ok(match event_type {
                    $(stringify!($name) => $enum::$name(
                        $crate::domain_event::read_payload(stringify!($name), payload)?,
                    ),)+
                    other => {
                        return Err($crate::domain_event::UnknownEvent::Type(other.to_owned()));
                    }
                })
            }
        }

        $(
            impl From<$name> for $enum {
                fn from(e: $name) -> Self {
                    $enum::$name(e)
                }
            }

            impl $crate::domain_event::EventName for $name {
                const NAME: &'static str = stringify!($name);
            }
        )+

        impl $crate::DomainEvent for $enum {
            const TYPES: &'static [&'static str] = $enum::TYPES;

            fn event_type(&self) -> &'static str {
                $enum::event_type(self)
            }

            fn payload(&self) -> serde_json::Value {
                $enum::payload(self)
            }

            fn from_stored(
                event_type: &str,
                payload: &serde_json::Value,
            ) -> Result<Self, $crate::domain_event::UnknownEvent> {
                $enum::from_stored(event_type, payload)
            }
        }
    };
}

#[cfg(test)]
mod tests {
    use super::all_event_types;

    #[test]
    fn every_type_name_is_unique_and_a_valid_event_type() {
        let all = all_event_types();
        let mut unique = all.clone();
        unique.dedup();
        assert_eq!(all, unique, "an event type is declared by two aggregates");
        for name in all {
            crate::EventType::parse(name).unwrap_or_else(|e| panic!("{e}"));
        }
    }
}
