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

/// A stored file name made safe to be one entry of a folder on any system (an export's
/// `files/<record>/<name>`): whatever the name says, a single component that cannot climb
/// out (`..`), hide (a leading dot), or mean a device or a drive on Windows, at most 100
/// characters with its extension kept. Used on names read back from storage, which
/// nothing may trust to have passed `parse` (an older record, a damaged row).
pub fn safe_basename(raw: &str) -> String {
    const KEEP: usize = 100;
    let last = raw.rsplit(['/', '\\']).next().unwrap_or("");
    let cleaned: String = last
        .chars()
        .map(|c| {
            if c.is_control() || matches!(c, '"' | ';' | ':' | '*' | '?' | '<' | '>' | '|') {
                '_'
            } else {
                c
            }
        })
        .collect();
    let cleaned = cleaned
        .trim()
        .trim_start_matches('.')
        .trim_end_matches(['.', ' ']);
    let mut name: String = if cleaned.chars().count() > KEEP {
        let (stem, ext) = cleaned.rsplit_once('.').unwrap_or((cleaned, ""));
        let ext: String = ext.chars().take(10).collect();
        let stem: String = stem.chars().take(KEEP - ext.chars().count() - 1).collect();
        format!("{stem}.{ext}")
    } else {
        cleaned.to_owned()
    };
    // CON, PRN, AUX, NUL, COM1…, LPT1… name devices on Windows, with any extension.
    let stem = name.split('.').next().unwrap_or("").to_ascii_uppercase();
    let device = matches!(stem.as_str(), "CON" | "PRN" | "AUX" | "NUL")
        || ((stem.starts_with("COM") || stem.starts_with("LPT"))
            && stem.len() == 4
            && stem.as_bytes()[3].is_ascii_digit());
    if device {
        name.insert(0, '_');
    }
    if name.is_empty() {
        name = "file".to_owned();
    }
    name
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
    fn a_safe_basename_never_climbs_hides_or_names_a_device() {
        for (raw, safe) in [
            ("../../evil.pdf", "evil.pdf"),
            ("..\\..\\evil.pdf", "evil.pdf"),
            ("..", "file"),
            ("", "file"),
            (".bashrc", "bashrc"),
            ("C:evil.pdf", "C_evil.pdf"),
            ("con.txt", "_con.txt"),
            ("LPT1", "_LPT1"),
            ("report.pdf. ", "report.pdf"),
            ("a\u{0}b.pdf", "a_b.pdf"),
        ] {
            assert_eq!(safe_basename(raw), safe, "{raw:?}");
        }
        let long = format!("{}.pdf", "x".repeat(300));
        let safe = safe_basename(&long);
        assert_eq!(safe.chars().count(), 100);
        assert!(safe.ends_with(".pdf"));
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
