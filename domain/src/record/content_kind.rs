//! What an uploaded file is, decided from its bytes (magic numbers), never from the name
//! or the type the client claims: the kinds MedChain accepts, their media types, and the
//! sniffing itself.
//!
//! Binary formats are recognised by `infer`; anything it knows that is not on the list
//! (executables, archives, HTML, scripts) is refused. `infer` has no notion of plain
//! text or JSON, so those are decided here: valid UTF-8 without control characters other
//! than whitespace, JSON when it opens with `{` or `[`.

use std::fmt;

/// How many leading bytes `sniff` wants to see (fewer only when the file is shorter).
pub const SNIFF_BYTES: usize = 8 * 1024;

#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum ContentKind {
    Pdf,
    Png,
    Jpeg,
    Dicom,
    Text,
    Json,
}

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
#[error("unknown file kind {0:?}: the kinds are pdf, png, jpeg, dicom, text and json")]
pub struct UnknownKind(pub String);

impl ContentKind {
    pub const ALL: [ContentKind; 6] = [
        ContentKind::Pdf,
        ContentKind::Png,
        ContentKind::Jpeg,
        ContentKind::Dicom,
        ContentKind::Text,
        ContentKind::Json,
    ];

    /// The short name used in configuration (`MEDCHAIN_UPLOAD_TYPES`).
    pub fn name(self) -> &'static str {
        match self {
            ContentKind::Pdf => "pdf",
            ContentKind::Png => "png",
            ContentKind::Jpeg => "jpeg",
            ContentKind::Dicom => "dicom",
            ContentKind::Text => "text",
            ContentKind::Json => "json",
        }
    }

    pub fn parse_name(raw: &str) -> Result<Self, UnknownKind> {
        let wanted = raw.trim().to_ascii_lowercase();
        let wanted = if wanted == "jpg" {
            "jpeg".into()
        } else {
            wanted
        };
        Self::ALL
            .into_iter()
            .find(|k| k.name() == wanted)
            .ok_or(UnknownKind(raw.to_owned()))
    }

    /// The media type sent on download and kept in `RecordUploaded`.
    pub fn mime(self) -> &'static str {
        match self {
            ContentKind::Pdf => "application/pdf",
            ContentKind::Png => "image/png",
            ContentKind::Jpeg => "image/jpeg",
            ContentKind::Dicom => "application/dicom",
            ContentKind::Text => "text/plain; charset=utf-8",
            ContentKind::Json => "application/json",
        }
    }

    pub fn from_mime(mime: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|k| k.mime() == mime)
    }

    /// An extension for a file that came without a name.
    pub fn extension(self) -> &'static str {
        match self {
            ContentKind::Pdf => "pdf",
            ContentKind::Png => "png",
            ContentKind::Jpeg => "jpg",
            ContentKind::Dicom => "dcm",
            ContentKind::Text => "txt",
            ContentKind::Json => "json",
        }
    }
}

impl fmt::Debug for ContentKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// The kind of a file from its first bytes: `head` holds the first `SNIFF_BYTES` (or the
/// whole file when `complete`). `None`: not a kind MedChain knows how to accept.
pub fn sniff(head: &[u8], complete: bool) -> Option<ContentKind> {
    if head.is_empty() {
        return None;
    }
    if let Some(found) = infer::get(head) {
        return match found.mime_type() {
            "application/pdf" => Some(ContentKind::Pdf),
            "image/png" => Some(ContentKind::Png),
            "image/jpeg" => Some(ContentKind::Jpeg),
            "application/dicom" => Some(ContentKind::Dicom),
            _ => None,
        };
    }
    let text = head.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(head);
    let valid = match std::str::from_utf8(text) {
        Ok(s) => s,
        // Only the window's end may cut a character in two.
        Err(e) if !complete && e.error_len().is_none() => {
            std::str::from_utf8(&text[..e.valid_up_to()]).expect("checked up to here")
        }
        Err(_) => return None,
    };
    if valid
        .chars()
        .any(|c| c.is_control() && !matches!(c, '\n' | '\r' | '\t' | '\u{c}'))
    {
        return None;
    }
    match valid.trim_start().chars().next() {
        Some('{' | '[') => Some(ContentKind::Json),
        Some(_) => Some(ContentKind::Text),
        None => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn dicom() -> Vec<u8> {
        let mut d = vec![0u8; 128];
        d.extend_from_slice(b"DICM\x02\x00\x00\x00");
        d
    }

    #[test]
    fn recognises_each_kind_by_its_bytes() {
        let png = b"\x89PNG\r\n\x1a\n\0\0\0\rIHDR";
        let cases: [(&[u8], ContentKind); 7] = [
            (b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n", ContentKind::Pdf),
            (png, ContentKind::Png),
            (b"\xff\xd8\xff\xe0\0\x10JFIF\0", ContentKind::Jpeg),
            (&dicom(), ContentKind::Dicom),
            (b"Blood pressure 120/80\r\nfine\n", ContentKind::Text),
            (b"  {\"resourceType\": \"Patient\"}", ContentKind::Json),
            (b"\xEF\xBB\xBF[1, 2]", ContentKind::Json),
        ];
        for (bytes, kind) in cases {
            assert_eq!(sniff(bytes, true), Some(kind), "{kind:?}");
        }
    }

    #[test]
    fn refuses_executables_archives_markup_and_binary_junk() {
        let refused: [&[u8]; 7] = [
            b"\x7fELF\x02\x01\x01\0\0\0\0\0\0\0\0\0\x02\0>\0",
            b"MZ\x90\0\x03\0\0\0\x04\0\0\0\xff\xff\0\0",
            b"PK\x03\x04\x14\0\0\0\x08\0",
            b"<!DOCTYPE html><html><script>alert(1)</script>",
            b"#!/bin/sh\nrm -rf /\n",
            b"plain\0text with a NUL",
            b"",
        ];
        for bytes in refused {
            assert_eq!(sniff(bytes, true), None, "{bytes:?}");
        }
    }

    #[test]
    fn a_character_cut_by_the_window_is_fine_but_not_at_the_end_of_the_file() {
        let mut head = "é".repeat(10).into_bytes();
        head.push(0xC3);
        assert_eq!(sniff(&head, false), Some(ContentKind::Text));
        assert_eq!(sniff(&head, true), None);
    }

    #[test]
    fn names_and_media_types_round_trip() {
        for kind in ContentKind::ALL {
            assert_eq!(ContentKind::parse_name(kind.name()), Ok(kind));
            assert_eq!(ContentKind::from_mime(kind.mime()), Some(kind));
        }
        assert_eq!(ContentKind::parse_name(" JPG "), Ok(ContentKind::Jpeg));
        assert!(ContentKind::parse_name("exe").is_err());
    }
}
