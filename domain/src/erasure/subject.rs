//! What an erasure names: a person (`user-<id>`) or one record (`record-<id>`), the text
//! API.graphql's `erasureCertificate(subject:)` and `placeLegalHold(subject:)` take.

use crate::account::UserId;
use crate::record::RecordId;
use std::fmt;
use uuid::Uuid;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum ErasureSubject {
    User(UserId),
    Record(RecordId),
}

#[derive(Debug, Clone, thiserror::Error, PartialEq, Eq)]
#[error("{0:?} is not an erasure subject: \"user-<id>\" or \"record-<id>\"")]
pub struct InvalidErasureSubject(String);

impl ErasureSubject {
    pub fn parse(raw: &str) -> Result<Self, InvalidErasureSubject> {
        let bad = || InvalidErasureSubject(raw.chars().take(80).collect());
        let (kind, id) = raw.trim().split_once('-').ok_or_else(bad)?;
        let id = Uuid::try_parse(id).map_err(|_| bad())?;
        match kind {
            "user" => Ok(Self::User(UserId::from_uuid(id))),
            "record" => Ok(Self::Record(RecordId::from_uuid(id))),
            _ => Err(bad()),
        }
    }

    /// `user` or `record`: also the `kind` of the command layer's `key_erasures` rows.
    pub fn kind(&self) -> &'static str {
        match self {
            Self::User(_) => "user",
            Self::Record(_) => "record",
        }
    }

    pub fn id(&self) -> Uuid {
        match self {
            Self::User(id) => id.as_uuid(),
            Self::Record(id) => id.as_uuid(),
        }
    }
}

impl fmt::Display for ErasureSubject {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}-{}", self.kind(), self.id().hyphenated())
    }
}

impl serde::Serialize for ErasureSubject {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl<'de> serde::Deserialize<'de> for ErasureSubject {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let raw = String::deserialize(d)?;
        Self::parse(&raw).map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_what_it_prints_and_nothing_else() {
        let id = Uuid::from_u128(7);
        for subject in [
            ErasureSubject::User(UserId::from_uuid(id)),
            ErasureSubject::Record(RecordId::from_uuid(id)),
        ] {
            assert_eq!(ErasureSubject::parse(&subject.to_string()), Ok(subject));
        }
        for bad in [
            "",
            "user",
            "user-",
            "users-00000000-0000-0000-0000-000000000007",
            "record-x",
        ] {
            assert!(ErasureSubject::parse(bad).is_err(), "{bad}");
        }
    }
}
