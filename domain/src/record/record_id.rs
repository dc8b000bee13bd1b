//! A record's id: the UUID that names its stream (`record-<uuid>`) and its URL
//! (`/api/records/{id}/content`). Made by the server at upload, never chosen by a client.

use crate::StreamName;
use serde::{Deserialize, Serialize};
use std::fmt;
use uuid::Uuid;

/// The stream category of the `record` aggregate.
pub const RECORD_CATEGORY: &str = "record";

#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(transparent)]
pub struct RecordId(Uuid);

impl RecordId {
    pub const fn from_uuid(id: Uuid) -> Self {
        Self(id)
    }

    pub const fn as_uuid(&self) -> Uuid {
        self.0
    }

    pub fn stream(&self) -> StreamName {
        StreamName::new(RECORD_CATEGORY, self.0).expect("\"record\" is a valid stream category")
    }
}

impl fmt::Display for RecordId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(&self.0.hyphenated(), f)
    }
}

impl fmt::Debug for RecordId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "RecordId({})", self.0.hyphenated())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_its_stream() {
        let id = RecordId::from_uuid(Uuid::from_u128(5));
        assert_eq!(id.stream().category(), "record");
        assert_eq!(id.stream().id(), id.as_uuid());
        assert_eq!(id.to_string(), "00000000-0000-0000-0000-000000000005");
    }
}
