//! A stream's name: `<category>-<uuid>` (DESIGN.md §2), one aggregate's history.

use std::fmt;
use uuid::Uuid;

#[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct StreamName(String);

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum InvalidStreamName {
    #[error("a stream name is <category>-<uuid>, with a lowercase ASCII category: {0:?}")]
    Shape(String),
}

impl StreamName {
    pub fn new(category: &str, id: Uuid) -> Result<Self, InvalidStreamName> {
        Self::parse(&format!("{category}-{}", id.hyphenated()))
    }

    pub fn parse(raw: &str) -> Result<Self, InvalidStreamName> {
        let bad = || InvalidStreamName::Shape(raw.to_owned());
        // A hyphenated UUID is 36 characters; the category is what stands before it.
        let split = raw.len().checked_sub(37).ok_or_else(bad)?;
        let (category, rest) = raw.split_at(split);
        let id = rest.strip_prefix('-').ok_or_else(bad)?;
        let category_ok = !category.is_empty()
            && category.len() <= 32
            && category
                .bytes()
                .all(|b| b.is_ascii_lowercase() || b == b'_');
        let parsed = Uuid::try_parse(id).map_err(|_| bad())?;
        if !category_ok || parsed.hyphenated().to_string() != id {
            return Err(bad());
        }
        Ok(Self(raw.to_owned()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    pub fn category(&self) -> &str {
        &self.0[..self.0.len() - 37]
    }

    pub fn id(&self) -> Uuid {
        Uuid::try_parse(&self.0[self.0.len() - 36..]).expect("checked at parse")
    }
}

impl fmt::Display for StreamName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl fmt::Debug for StreamName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "StreamName({})", self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn category_and_id_come_back() {
        let id = Uuid::new_v4();
        let s = StreamName::new("user", id).unwrap();
        assert_eq!(s.as_str(), format!("user-{id}"));
        assert_eq!(s.category(), "user");
        assert_eq!(s.id(), id);
    }

    #[test]
    fn refuses_other_shapes() {
        for bad in [
            "",
            "user",
            "user-123",
            "-9b2c6f1e-8a7d-4c3b-9e2f-1a2b3c4d5e6f",
            "User-9b2c6f1e-8a7d-4c3b-9e2f-1a2b3c4d5e6f",
            "user-9B2C6F1E-8A7D-4C3B-9E2F-1A2B3C4D5E6F",
            "user_9b2c6f1e-8a7d-4c3b-9e2f-1a2b3c4d5e6f",
        ] {
            assert!(StreamName::parse(bad).is_err(), "{bad:?}");
        }
        assert!(StreamName::parse("share_expiry-9b2c6f1e-8a7d-4c3b-9e2f-1a2b3c4d5e6f").is_ok());
    }
}
