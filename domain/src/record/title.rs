//! A record's title, as the patient typed it: trimmed, 1 to 200 characters, no control
//! characters. Sealed before it reaches the ledger (DESIGN.md §4).

use std::fmt;

pub const MAX_TITLE_CHARS: usize = 200;

#[derive(Clone, PartialEq, Eq)]
pub struct Title(String);

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum InvalidTitle {
    #[error("a record needs a title")]
    Empty,
    #[error("a title is at most {MAX_TITLE_CHARS} characters")]
    TooLong,
    #[error("a title cannot hold control characters")]
    Control,
}

impl Title {
    pub fn parse(raw: &str) -> Result<Self, InvalidTitle> {
        let trimmed = raw.trim();
        if trimmed.is_empty() {
            return Err(InvalidTitle::Empty);
        }
        if trimmed.chars().count() > MAX_TITLE_CHARS {
            return Err(InvalidTitle::TooLong);
        }
        if trimmed.chars().any(char::is_control) {
            return Err(InvalidTitle::Control);
        }
        Ok(Self(trimmed.to_owned()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// Medical content: never printed whole, so it cannot reach a log line by accident.
impl fmt::Debug for Title {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Title({} chars)", self.0.chars().count())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn is_trimmed() {
        assert_eq!(
            Title::parse("  Blood test  ").unwrap().as_str(),
            "Blood test"
        );
    }

    #[test]
    fn refuses_empty_long_and_control() {
        assert_eq!(Title::parse(" \t "), Err(InvalidTitle::Empty));
        assert_eq!(Title::parse(&"é".repeat(201)), Err(InvalidTitle::TooLong));
        assert!(Title::parse(&"é".repeat(200)).is_ok());
        assert_eq!(Title::parse("a\u{0}b"), Err(InvalidTitle::Control));
        assert_eq!(Title::parse("a\nb"), Err(InvalidTitle::Control));
    }

    #[test]
    fn debug_hides_the_text() {
        let title = Title::parse("HIV test").unwrap();
        assert_eq!(format!("{title:?}"), "Title(8 chars)");
    }
}
