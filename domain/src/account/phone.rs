//! A phone number as the person wrote it: digits with the usual separators, kept as
//! typed (trimmed) because it is shown back to them. Personal data: sealed before it
//! enters an event (DESIGN.md §4).
//!
//! 6 to 15 digits: E.164 allows at most 15, and shorter than 6 is no callable number.

use std::fmt;

pub const MIN_PHONE_DIGITS: usize = 6;
pub const MAX_PHONE_DIGITS: usize = 15;
/// Room for 15 digits and their separators; more is padding, not a number.
pub const MAX_PHONE_CHARS: usize = 32;

#[derive(Clone, PartialEq, Eq, Hash)]
pub struct Phone(String);

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum InvalidPhone {
    #[error("the phone number is empty")]
    Empty,
    #[error("the phone number must be at most 32 characters long")]
    TooLong,
    #[error(
        "a phone number may contain only digits, spaces, a leading +, hyphens, dots and parentheses"
    )]
    Character,
    #[error("a phone number has 6 to 15 digits")]
    DigitCount,
}

impl Phone {
    pub fn parse(raw: &str) -> Result<Self, InvalidPhone> {
        let trimmed = raw.trim();
        if trimmed.is_empty() {
            return Err(InvalidPhone::Empty);
        }
        if trimmed.chars().count() > MAX_PHONE_CHARS {
            return Err(InvalidPhone::TooLong);
        }
        let allowed = |(i, c): (usize, char)| {
            c.is_ascii_digit() || matches!(c, ' ' | '-' | '(' | ')' | '.') || (c == '+' && i == 0)
        };
        if !trimmed.char_indices().all(allowed) {
            return Err(InvalidPhone::Character);
        }
        let digits = trimmed.bytes().filter(u8::is_ascii_digit).count();
        if !(MIN_PHONE_DIGITS..=MAX_PHONE_DIGITS).contains(&digits) {
            return Err(InvalidPhone::DigitCount);
        }
        Ok(Self(trimmed.to_owned()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// Personal data: never printed by `Debug`, so it cannot reach a log by accident.
impl fmt::Debug for Phone {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Phone(***)")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keeps_the_trimmed_text() {
        for ok in [
            "+33 6 12 34 56 78",
            "(555) 123-4567",
            "555.123.4567",
            "123456",
            "+123456789012345",
        ] {
            assert_eq!(Phone::parse(&format!(" {ok}\n")).unwrap().as_str(), ok);
        }
    }

    #[test]
    fn refuses_letters_and_a_plus_inside() {
        for bad in [
            "555-CALL-NOW",
            "+33 6+12345678",
            "06 12 34 56 78 ext",
            "٠١٢٣٤٥٦",
        ] {
            assert_eq!(Phone::parse(bad), Err(InvalidPhone::Character), "{bad:?}");
        }
    }

    #[test]
    fn counts_digits_not_characters() {
        assert_eq!(Phone::parse("  "), Err(InvalidPhone::Empty));
        assert_eq!(Phone::parse("12-34-5"), Err(InvalidPhone::DigitCount));
        assert_eq!(Phone::parse("(+)"), Err(InvalidPhone::Character));
        assert_eq!(Phone::parse("()-. "), Err(InvalidPhone::DigitCount));
        assert_eq!(
            Phone::parse("1234567890123456"),
            Err(InvalidPhone::DigitCount)
        );
        assert_eq!(
            Phone::parse(&format!("1 2 3 4 5 6{}7", " ".repeat(30))),
            Err(InvalidPhone::TooLong)
        );
    }

    #[test]
    fn debug_hides_the_number() {
        let phone = Phone::parse("+33 6 12 34 56 78").unwrap();
        assert_eq!(format!("{phone:?}"), "Phone(***)");
    }
}
