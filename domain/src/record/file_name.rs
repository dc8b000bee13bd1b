//! The name the uploaded file had on the patient's machine, kept to offer it back on
//! download. Only the last path component is kept (a browser may send `C:\a\b.pdf`),
//! trimmed, at most 255 characters, with no control characters and no quotes or
//! separators that could break a `Content-Disposition` header. Sealed like the title.

use std::fmt;

pub const MAX_FILE_NAME_CHARS: usize = 255;

#[derive(Clone, PartialEq, Eq)]
pub struct FileName(String);

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum InvalidFileName {
    #[error("a file name cannot be empty")]
    Empty,
    #[error("a file name is at most {MAX_FILE_NAME_CHARS} characters")]
    TooLong,
}

impl FileName {
    /// Characters that would need quoting in a header are replaced by `_`.
    pub fn parse(raw: &str) -> Result<Self, InvalidFileName> {
        let last = raw.rsplit(['/', '\\']).next().unwrap_or("").trim();
        let cleaned: String = last
            .chars()
            .map(|c| {
                if c.is_control() || matches!(c, '"' | ';') {
                    '_'
                } else {
                    c
                }
            })
            .collect();
        if cleaned.is_empty() || cleaned == "." || cleaned == ".." {
            return Err(InvalidFileName::Empty);
        }
        if cleaned.chars().count() > MAX_FILE_NAME_CHARS {
            return Err(InvalidFileName::TooLong);
        }
        Ok(Self(cleaned))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for FileName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "FileName({} chars)", self.0.chars().count())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keeps_the_last_component() {
        assert_eq!(
            FileName::parse("C:\\Users\\a\\scan.pdf").unwrap().as_str(),
            "scan.pdf"
        );
        assert_eq!(
            FileName::parse("/etc/../x/report 1.pdf").unwrap().as_str(),
            "report 1.pdf"
        );
    }

    #[test]
    fn header_breaking_characters_are_replaced() {
        assert_eq!(
            FileName::parse("a\"b;c\r\nd.pdf").unwrap().as_str(),
            "a_b_c__d.pdf"
        );
    }

    #[test]
    fn refuses_empty_dots_and_long() {
        for bad in ["", "  ", "dir/", ".", ".."] {
            assert_eq!(FileName::parse(bad), Err(InvalidFileName::Empty), "{bad:?}");
        }
        assert_eq!(
            FileName::parse(&"a".repeat(256)),
            Err(InvalidFileName::TooLong)
        );
    }
}
