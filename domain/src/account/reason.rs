//! Why an administrator decided as they did: required where the API asks for it, trimmed,
//! at most 500 characters, no control characters except line breaks. It is written to the
//! ledger in clear, so the API says: give the reason, not the person's details.

use std::fmt;

pub const MAX_REASON_CHARS: usize = 500;

#[derive(Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(transparent)]
pub struct Reason(String);

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum InvalidReason {
    #[error("a reason is required")]
    Empty,
    #[error("the reason is longer than {MAX_REASON_CHARS} characters")]
    TooLong,
    #[error("the reason contains control characters")]
    ControlCharacter,
}

impl Reason {
    pub fn parse(raw: &str) -> Result<Self, InvalidReason> {
        let text = raw.trim();
        if text.is_empty() {
            return Err(InvalidReason::Empty);
        }
        if text.chars().count() > MAX_REASON_CHARS {
            return Err(InvalidReason::TooLong);
        }
        if text.chars().any(|c| c.is_control() && c != '\n') {
            return Err(InvalidReason::ControlCharacter);
        }
        Ok(Self(text.to_owned()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Reason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Reason({} chars)", self.0.chars().count())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn is_trimmed_required_and_bounded() {
        assert_eq!(
            Reason::parse("  licence not valid \n").unwrap().as_str(),
            "licence not valid"
        );
        assert_eq!(Reason::parse(" \n "), Err(InvalidReason::Empty));
        assert_eq!(Reason::parse(&"x".repeat(501)), Err(InvalidReason::TooLong));
        assert!(Reason::parse(&"é".repeat(500)).is_ok());
        assert_eq!(
            Reason::parse("a\u{7}b"),
            Err(InvalidReason::ControlCharacter)
        );
        assert!(Reason::parse("line one\nline two").is_ok());
    }
}
