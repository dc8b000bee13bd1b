//! An event payload made I-JSON (RFC 7493) and canonical (RFC 8785).
//!
//! I-JSON here means: an object whose numbers are integers within ±(2^53−1). Every
//! language parses those to the same value, so every auditor's JCS agrees byte for byte;
//! larger or fractional numbers go as strings.
//!
//! The canonical writer is written by hand, and one pass both checks and writes: general
//! RFC 8785 crates (serde_json_canonicalizer, serde_jcs) format every number as an
//! ECMAScript double, which this subset never needs, and cost about five times as much
//! on the append path. Without floats, JCS is: no whitespace, integers in decimal, strings
//! escaped as `JSON.stringify` does (serde_json's escaping is the same set), and object
//! members sorted by their UTF-16 code units. Tests compare it with
//! serde_json_canonicalizer on the RFC's vectors and on generated values.

use serde_json::Value;
use std::{cmp::Ordering, io::Write as _};

/// The largest integer every I-JSON reader represents exactly: 2^53 − 1.
pub const MAX_SAFE_INTEGER: i64 = (1 << 53) - 1;

/// The RFC 8785 text of an I-JSON object.
#[derive(Clone, PartialEq, Eq)]
pub struct CanonicalPayload(String);

#[derive(Debug, Clone, thiserror::Error, PartialEq, Eq)]
pub enum PayloadError {
    #[error("an event payload must be a JSON object")]
    NotAnObject,
    #[error(
        "payload{path}: floating-point numbers are not allowed in the ledger; write the value as a string"
    )]
    Float { path: String },
    #[error("payload{path}: integers must lie within ±(2^53−1); write larger values as strings")]
    IntegerOutOfRange { path: String },
    #[error("payload is not JSON: {0}")]
    Syntax(String),
}

impl CanonicalPayload {
    pub fn from_value(value: &Value) -> Result<Self, PayloadError> {
        if !value.is_object() {
            return Err(PayloadError::NotAnObject);
        }
        Ok(Self(canonical_json(value)?))
    }

    /// Parses stored payload text and canonicalises it again (what a verifier does).
    pub fn from_json_text(text: &str) -> Result<Self, PayloadError> {
        let value: Value =
            serde_json::from_str(text).map_err(|e| PayloadError::Syntax(e.to_string()))?;
        Self::from_value(&value)
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    pub fn into_string(self) -> String {
        self.0
    }
}

impl std::fmt::Debug for CanonicalPayload {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Payloads hold ciphertext and ids only, but keep Debug short anyway.
        write!(f, "CanonicalPayload({} bytes)", self.0.len())
    }
}

/// RFC 8785 text of any I-JSON value (not only objects): also used for signed documents.
pub fn canonical_json(value: &Value) -> Result<String, PayloadError> {
    let mut out = Vec::with_capacity(128);
    write_canonical(value, &mut out).map_err(NumberError::into_payload_error)?;
    Ok(String::from_utf8(out).expect("JSON text written from str is UTF-8"))
}

/// A number outside I-JSON, with the path to it collected while unwinding.
struct NumberError {
    float: bool,
    path: Vec<String>,
}

impl NumberError {
    fn at(mut self, segment: String) -> Self {
        self.path.push(segment);
        self
    }

    fn into_payload_error(self) -> PayloadError {
        let path: String = self.path.into_iter().rev().collect();
        if self.float {
            PayloadError::Float { path }
        } else {
            PayloadError::IntegerOutOfRange { path }
        }
    }
}

fn write_canonical(value: &Value, out: &mut Vec<u8>) -> Result<(), NumberError> {
    match value {
        Value::Null => out.extend_from_slice(b"null"),
        Value::Bool(b) => out.extend_from_slice(if *b { b"true" } else { b"false" }),
        Value::Number(n) => match n.as_i64() {
            Some(i) if (-MAX_SAFE_INTEGER..=MAX_SAFE_INTEGER).contains(&i) => {
                write!(out, "{i}").expect("writing to a Vec cannot fail");
            }
            other => {
                return Err(NumberError {
                    float: other.is_none() && !n.is_u64(),
                    path: Vec::new(),
                });
            }
        },
        Value::String(s) => write_string(s, out),
        Value::Array(items) => {
            out.push(b'[');
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.push(b',');
                }
                write_canonical(item, out).map_err(|e| e.at(format!("[{i}]")))?;
            }
            out.push(b']');
        }
        Value::Object(fields) => {
            out.push(b'{');
            // The usual payload has ASCII keys that the map already yields in byte order,
            // which is then UTF-16 order: write them as they come, without a sort. The
            // order is checked, not assumed (serde_json's `preserve_order` feature, if any
            // crate turned it on, would yield insertion order).
            let mut keys = fields.keys();
            let in_order = keys.next().is_none_or(|first| {
                first.is_ascii()
                    && keys
                        .try_fold(first, |prev, key| {
                            (key.is_ascii() && prev < key).then_some(key)
                        })
                        .is_some()
            });
            if in_order {
                write_members(fields.iter(), out)?;
            } else {
                let mut members: Vec<(&String, &Value)> = fields.iter().collect();
                members.sort_by(|a, b| utf16_order(a.0, b.0));
                write_members(members.into_iter(), out)?;
            }
            out.push(b'}');
        }
    }
    Ok(())
}

fn write_members<'a>(
    members: impl Iterator<Item = (&'a String, &'a Value)>,
    out: &mut Vec<u8>,
) -> Result<(), NumberError> {
    for (i, (key, item)) in members.enumerate() {
        if i > 0 {
            out.push(b',');
        }
        write_string(key, out);
        out.push(b':');
        write_canonical(item, out).map_err(|e| e.at(format!(".{key}")))?;
    }
    Ok(())
}

/// JCS strings are ECMAScript `JSON.stringify` strings; serde_json escapes the same set
/// (`"`, `\`, control characters, with `\b\f\n\r\t` short forms and lowercase `\u00xx`).
pub(super) fn write_string(s: &str, out: &mut Vec<u8>) {
    serde_json::to_writer(out, s).expect("writing a str to a Vec cannot fail");
}

/// RFC 8785 §3.2.3: member names compare by UTF-16 code units. That equals byte order
/// except where characters beyond U+FFFF (surrogates, 0xD800…) meet U+E000…U+FFFF.
fn utf16_order(a: &str, b: &str) -> Ordering {
    if a.is_ascii() && b.is_ascii() {
        a.cmp(b)
    } else {
        a.encode_utf16().cmp(b.encode_utf16())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn canonical_order_and_spacing() {
        let p =
            CanonicalPayload::from_value(&json!({"b": [1, {"z": null, "a": true}], "a": "é\n"}))
                .unwrap();
        assert_eq!(
            p.as_str(),
            "{\"a\":\"é\\n\",\"b\":[1,{\"a\":true,\"z\":null}]}"
        );
    }

    #[test]
    fn refuses_floats_with_their_path() {
        let err = CanonicalPayload::from_value(&json!({"a": {"b": [0, 1.5]}})).unwrap_err();
        assert_eq!(
            err,
            PayloadError::Float {
                path: ".a.b[1]".into()
            }
        );
        assert!(CanonicalPayload::from_json_text(r#"{"x": 1e3}"#).is_err());
        assert!(CanonicalPayload::from_json_text(r#"{"x": 2.0}"#).is_err());
    }

    #[test]
    fn integers_stop_at_two_to_the_53_minus_one() {
        assert!(CanonicalPayload::from_value(&json!({"n": MAX_SAFE_INTEGER})).is_ok());
        assert!(CanonicalPayload::from_value(&json!({"n": -MAX_SAFE_INTEGER})).is_ok());
        for n in [
            json!(MAX_SAFE_INTEGER + 1),
            json!(-MAX_SAFE_INTEGER - 1),
            json!(u64::MAX),
        ] {
            assert_eq!(
                CanonicalPayload::from_value(&json!({ "n": n })),
                Err(PayloadError::IntegerOutOfRange { path: ".n".into() })
            );
        }
    }

    #[test]
    fn keys_sort_by_utf16_not_by_code_point() {
        // U+FB33 sorts after U+1F600 in UTF-16 (0xFB33 > 0xD83D) though before it in UTF-8.
        let p =
            CanonicalPayload::from_value(&json!({"\u{1f600}": 1, "\u{fb33}": 2, "a": 3})).unwrap();
        assert_eq!(p.as_str(), "{\"a\":3,\"\u{1f600}\":1,\"\u{fb33}\":2}");
    }

    #[test]
    fn only_objects() {
        assert_eq!(
            CanonicalPayload::from_value(&json!([1])),
            Err(PayloadError::NotAnObject)
        );
        assert_eq!(
            CanonicalPayload::from_value(&json!("x")),
            Err(PayloadError::NotAnObject)
        );
    }
}
