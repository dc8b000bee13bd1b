//! A record's optional description: trimmed, at most 4 000 characters; line breaks and
//! tabs are kept, other control characters refused. Blank means none. Sealed like the
//! title.

use std::fmt;

pub const MAX_DESCRIPTION_CHARS: usize = 4_000;

#[derive(Clone, PartialEq, Eq)]
pub struct Description(String);

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum InvalidDescription {
    #[error("a description is at most {MAX_DESCRIPTION_CHARS} characters")]
    TooLong,
    #[error("a description cannot hold control characters other than line breaks and tabs")]
    Control,
}

impl Description {
    /// `None` for a blank description.
    pub fn parse(raw: &str) -> Result<Option<Self>, InvalidDescription> {
        let trimmed = raw.trim();
        if trimmed.is_empty() {
            return Ok(None);
        }
        if trimmed.chars().count() > MAX_DESCRIPTION_CHARS {
            return Err(InvalidDescription::TooLong);
        }
        if trimmed
            .chars()
            .any(|c| c.is_control() && !matches!(c, '\n' | '\r' | '\t'))
        {
            return Err(InvalidDescription::Control);
        }
        Ok(Some(Self(trimmed.to_owned())))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Description {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Description({} chars)", self.0.chars().count())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn blank_is_none_and_lines_are_kept() {
        assert_eq!(Description::parse("  \n "), Ok(None));
        let d = Description::parse(" line one\nline two\t! ")
            .unwrap()
            .unwrap();
        assert_eq!(d.as_str(), "line one\nline two\t!");
    }

    #[test]
    fn refuses_long_and_control() {
        assert_eq!(
            Description::parse(&"x".repeat(4_001)),
            Err(InvalidDescription::TooLong)
        );
        assert_eq!(
            Description::parse("a\u{7}b"),
            Err(InvalidDescription::Control)
        );
    }
}
