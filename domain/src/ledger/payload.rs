//! An event payload made I-JSON (RFC 7493) and canonical (RFC 8785).
//!
//! I-JSON here means: an object whose numbers are integers within ±(2^53−1). Every
//! language parses those to the same value, so every auditor's JCS agrees byte for byte;
//! larger or fractional numbers go as strings. The walk that checks this is written by
//! hand because no crate checks I-JSON's number rules; the canonical bytes come from
//! `serde_json_canonicalizer`.

use serde_json::Value;

/// The largest integer every I-JSON reader represents exactly: 2^53 − 1.
pub const MAX_SAFE_INTEGER: i64 = (1 << 53) - 1;

/// The RFC 8785 text of an I-JSON object.
#[derive(Clone, PartialEq, Eq)]
pub struct CanonicalPayload(String);

#[derive(Debug, Clone, thiserror::Error, PartialEq, Eq)]
pub enum PayloadError {
    #[error("an event payload must be a JSON object")]
    NotAnObject,
    #[error("payload{path}: floating-point numbers are not allowed in the ledger; write the value as a string")]
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
        check_numbers(value, &mut String::new())?;
        let text = serde_json_canonicalizer::to_string(value)
            .map_err(|e| PayloadError::Syntax(e.to_string()))?;
        Ok(Self(text))
    }

    /// Parses stored payload text and canonicalises it again (what a verifier does).
    pub fn from_json_text(text: &str) -> Result<Self, PayloadError> {
        let value: Value = serde_json::from_str(text).map_err(|e| PayloadError::Syntax(e.to_string()))?;
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

fn check_numbers(value: &Value, path: &mut String) -> Result<(), PayloadError> {
    match value {
        Value::Number(n) => match n.as_i64() {
            Some(i) if (-MAX_SAFE_INTEGER..=MAX_SAFE_INTEGER).contains(&i) => Ok(()),
            Some(_) => Err(PayloadError::IntegerOutOfRange { path: path.clone() }),
            None if n.is_u64() => Err(PayloadError::IntegerOutOfRange { path: path.clone() }),
            None => Err(PayloadError::Float { path: path.clone() }),
        },
        Value::Array(items) => items.iter().enumerate().try_for_each(|(i, item)| {
            let len = path.len();
            path.push_str(&format!("[{i}]"));
            let result = check_numbers(item, path);
            path.truncate(len);
            result
        }),
        Value::Object(fields) => fields.iter().try_for_each(|(key, item)| {
            let len = path.len();
            path.push('.');
            path.push_str(key);
            let result = check_numbers(item, path);
            path.truncate(len);
            result
        }),
        Value::Null | Value::Bool(_) | Value::String(_) => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn canonical_order_and_spacing() {
        let p = CanonicalPayload::from_value(&json!({"b": [1, {"z": null, "a": true}], "a": "é\n"})).unwrap();
        assert_eq!(p.as_str(), "{\"a\":\"é\\n\",\"b\":[1,{\"a\":true,\"z\":null}]}");
    }

    #[test]
    fn refuses_floats_with_their_path() {
        let err = CanonicalPayload::from_value(&json!({"a": {"b": [0, 1.5]}})).unwrap_err();
        assert_eq!(err, PayloadError::Float { path: ".a.b[1]".into() });
        assert!(CanonicalPayload::from_json_text(r#"{"x": 1e3}"#).is_err());
        assert!(CanonicalPayload::from_json_text(r#"{"x": 2.0}"#).is_err());
    }

    #[test]
    fn integers_stop_at_two_to_the_53_minus_one() {
        assert!(CanonicalPayload::from_value(&json!({"n": MAX_SAFE_INTEGER})).is_ok());
        assert!(CanonicalPayload::from_value(&json!({"n": -MAX_SAFE_INTEGER})).is_ok());
        for n in [json!(MAX_SAFE_INTEGER + 1), json!(-MAX_SAFE_INTEGER - 1), json!(u64::MAX)] {
            assert_eq!(
                CanonicalPayload::from_value(&json!({ "n": n })),
                Err(PayloadError::IntegerOutOfRange { path: ".n".into() })
            );
        }
    }

    #[test]
    fn only_objects() {
        assert_eq!(CanonicalPayload::from_value(&json!([1])), Err(PayloadError::NotAnObject));
        assert_eq!(CanonicalPayload::from_value(&json!("x")), Err(PayloadError::NotAnObject));
    }
}
