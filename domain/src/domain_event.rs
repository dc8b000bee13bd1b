//! What every aggregate's events share: a type name kept beside the payload in the ledger
//! row, a payload (the event struct's serde JSON), and reading both back.

use serde_json::Value;

/// An aggregate's event, as the ledger stores it.
pub trait DomainEvent {
    fn event_type(&self) -> &'static str;
    fn payload(&self) -> Value;
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
