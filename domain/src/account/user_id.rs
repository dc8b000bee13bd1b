//! A user's id: the UUID that names their stream (`user-<uuid>`) and stands for them in
//! every other event, so nothing personal is needed to say who did what.

use crate::StreamName;
use serde::{Deserialize, Serialize};
use std::fmt;
use uuid::Uuid;

/// The stream category of the `user` aggregate.
pub const USER_CATEGORY: &str = "user";

#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(transparent)]
pub struct UserId(Uuid);

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
#[error("a user id is a UUID such as 9b2c6f1e-8a7d-4c3b-9e2f-1a2b3c4d5e6f")]
pub struct InvalidUserId;

impl UserId {
    pub const fn from_uuid(id: Uuid) -> Self {
        Self(id)
    }

    pub const fn as_uuid(&self) -> Uuid {
        self.0
    }

    /// Takes any form `uuid` reads (hyphenated, simple, braced, either case): ids arrive
    /// typed by people as well as by programs.
    pub fn parse(raw: &str) -> Result<Self, InvalidUserId> {
        Uuid::try_parse(raw.trim())
            .map(Self)
            .map_err(|_| InvalidUserId)
    }

    pub fn stream(&self) -> StreamName {
        StreamName::new(USER_CATEGORY, self.0).expect("\"user\" is a valid stream category")
    }
}

impl fmt::Display for UserId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(&self.0.hyphenated(), f)
    }
}

impl fmt::Debug for UserId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "UserId({})", self.0.hyphenated())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const ID: &str = "9b2c6f1e-8a7d-4c3b-9e2f-1a2b3c4d5e6f";

    #[test]
    fn displays_hyphenated_lowercase() {
        let id = UserId::parse("9B2C6F1E8A7D4C3B9E2F1A2B3C4D5E6F").unwrap();
        assert_eq!(id.to_string(), ID);
        assert_eq!(id.as_uuid(), Uuid::try_parse(ID).unwrap());
        assert_eq!(UserId::parse("user"), Err(InvalidUserId));
    }

    #[test]
    fn names_its_stream() {
        let id = UserId::parse(ID).unwrap();
        let stream = id.stream();
        assert_eq!(stream.as_str(), format!("user-{ID}"));
        assert_eq!(stream.id(), id.as_uuid());
    }

    #[test]
    fn is_a_plain_uuid_string_in_json() {
        let id = UserId::parse(ID).unwrap();
        assert_eq!(serde_json::to_string(&id).unwrap(), format!("\"{ID}\""));
        assert_eq!(
            serde_json::from_str::<UserId>(&format!("\"{ID}\"")).unwrap(),
            id
        );
    }
}
