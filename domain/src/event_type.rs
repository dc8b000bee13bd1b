//! An event's type: PascalCase, past tense (`UserRegistered`, `RecordShared`).

use std::fmt;

#[derive(Clone, PartialEq, Eq, Hash)]
pub struct EventType(String);

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
#[error("an event type is PascalCase ASCII letters and digits, at most 64: {0:?}")]
pub struct InvalidEventType(String);

impl EventType {
    pub fn parse(raw: &str) -> Result<Self, InvalidEventType> {
        let ok = raw.len() <= 64
            && raw.starts_with(|c: char| c.is_ascii_uppercase())
            && raw.bytes().all(|b| b.is_ascii_alphanumeric());
        if ok {
            Ok(Self(raw.to_owned()))
        } else {
            Err(InvalidEventType(raw.to_owned()))
        }
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for EventType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl fmt::Debug for EventType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "EventType({})", self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pascal_case_only() {
        assert!(EventType::parse("RecordShared").is_ok());
        for bad in ["", "recordShared", "Record-Shared", "Record Shared", "Ré"] {
            assert!(EventType::parse(bad).is_err(), "{bad:?}");
        }
    }
}
