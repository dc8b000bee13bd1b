//! A person's name as they write it: any script, one space between words, no control
//! characters. Personal data: it is sealed before it enters an event (DESIGN.md §4).
//!
//! Nothing stricter is checked (no "first name + last name", no Latin letters only):
//! names do not follow rules, and a wrong guess locks real people out.

use std::fmt;

pub const MAX_NAME_CHARS: usize = 100;

#[derive(Clone, PartialEq, Eq, Hash)]
pub struct PersonName(String);

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum InvalidPersonName {
    #[error("the name is empty")]
    Empty,
    #[error("the name must be at most 100 characters long")]
    TooLong,
    #[error("the name must not contain control characters such as tabs or line breaks")]
    ControlCharacter,
}

impl PersonName {
    pub fn parse(raw: &str) -> Result<Self, InvalidPersonName> {
        let trimmed = raw.trim();
        // Checked before collapsing, which would otherwise turn a tab or a line break
        // (both whitespace) into a space and hide it.
        if trimmed.chars().any(char::is_control) {
            return Err(InvalidPersonName::ControlCharacter);
        }
        let normal = trimmed.split_whitespace().collect::<Vec<_>>().join(" ");
        if normal.is_empty() {
            return Err(InvalidPersonName::Empty);
        }
        if normal.chars().count() > MAX_NAME_CHARS {
            return Err(InvalidPersonName::TooLong);
        }
        Ok(Self(normal))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The words of the name, split at spaces, hyphens and apostrophes ("Anne-Marie
    /// O'Neil" gives Anne, Marie, O, Neil): what the password policy keeps out of
    /// passwords.
    pub fn parts(&self) -> impl Iterator<Item = &str> {
        self.0
            .split(|c: char| c.is_whitespace() || matches!(c, '-' | '\'' | '\u{2019}'))
            .filter(|part| !part.is_empty())
    }
}

/// Personal data: never printed by `Debug`, so it cannot reach a log by accident.
impl fmt::Debug for PersonName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("PersonName(***)")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn is_trimmed_with_single_spaces() {
        let name = PersonName::parse("  Anne-Marie \u{a0}  O'Neil ").unwrap();
        assert_eq!(name.as_str(), "Anne-Marie O'Neil");
        assert_eq!(PersonName::parse("李 小龍").unwrap().as_str(), "李 小龍");
    }

    #[test]
    fn parts_split_at_spaces_hyphens_and_apostrophes() {
        let name = PersonName::parse("Anne-Marie O'Neil d\u{2019}Arc").unwrap();
        let parts: Vec<_> = name.parts().collect();
        assert_eq!(parts, ["Anne", "Marie", "O", "Neil", "d", "Arc"]);
    }

    #[test]
    fn refuses_empty_long_and_control_characters() {
        assert_eq!(PersonName::parse(" \n "), Err(InvalidPersonName::Empty));
        assert_eq!(
            PersonName::parse("Alice\tExample"),
            Err(InvalidPersonName::ControlCharacter)
        );
        assert_eq!(
            PersonName::parse("Alice\u{7}"),
            Err(InvalidPersonName::ControlCharacter)
        );
        assert!(PersonName::parse(&"é".repeat(100)).is_ok());
        assert_eq!(
            PersonName::parse(&"é".repeat(101)),
            Err(InvalidPersonName::TooLong)
        );
    }

    #[test]
    fn length_is_counted_after_collapsing() {
        let spaced = format!("{}     {}", "a".repeat(49), "b".repeat(50));
        assert_eq!(PersonName::parse(&spaced).unwrap().as_str().len(), 100);
    }

    #[test]
    fn debug_hides_the_name() {
        let name = PersonName::parse("Alice Example").unwrap();
        assert_eq!(format!("{name:?}"), "PersonName(***)");
    }
}
