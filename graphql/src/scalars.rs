//! The contract's scalars: `DateTime` (RFC 3339, UTC, six fractional digits) and `Long`
//! (a 64-bit integer within ±(2^53−1), so every JSON reader takes it exactly).

use async_graphql::{InputValueError, InputValueResult, Scalar, ScalarType, Value};
use domain::Timestamp;

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct DateTime(pub Timestamp);

#[Scalar(name = "DateTime")]
impl ScalarType for DateTime {
    fn parse(value: Value) -> InputValueResult<Self> {
        match &value {
            Value::String(s) => Timestamp::parse(s).map(DateTime).map_err(|_| {
                InputValueError::custom("a DateTime is RFC 3339, e.g. 2026-11-24T10:15:30.123456Z")
            }),
            _ => Err(InputValueError::expected_type(value)),
        }
    }

    fn to_value(&self) -> Value {
        Value::String(self.0.to_string())
    }
}

const MAX_SAFE: i64 = (1 << 53) - 1;

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct Long(pub i64);

#[Scalar(name = "Long")]
impl ScalarType for Long {
    fn parse(value: Value) -> InputValueResult<Self> {
        match &value {
            Value::Number(n) => match n.as_i64() {
                Some(i) if (-MAX_SAFE..=MAX_SAFE).contains(&i) => Ok(Long(i)),
                _ => Err(InputValueError::custom(
                    "a Long is an integer within ±(2^53−1)",
                )),
            },
            _ => Err(InputValueError::expected_type(value)),
        }
    }

    fn to_value(&self) -> Value {
        Value::Number(self.0.into())
    }
}

/// The contract's `JSON`: any JSON document, as `serde_json` holds it.
///
/// Written out here rather than through `async_graphql::Json` because the FHIR model
/// (`fhir`, which the workspace shares) turns on serde_json's `arbitrary_precision`: a
/// number then serializes as a private one-field struct for any serializer but serde_json's
/// own, and `async_graphql::Json` goes through async-graphql's serializer, which would
/// answer `{"$serde_json::private::Number": "7"}` for `7`. Here each number is handed to
/// the response as the `serde_json::Number` it is (async-graphql's `Number` is that type),
/// and the response is written by serde_json.
#[derive(Debug, Clone, PartialEq)]
pub struct JsonValue(pub serde_json::Value);

#[Scalar(name = "JSON")]
impl ScalarType for JsonValue {
    fn parse(value: Value) -> InputValueResult<Self> {
        value
            .into_json()
            .map(JsonValue)
            .map_err(|e| InputValueError::custom(format!("not JSON: {e}")))
    }

    fn to_value(&self) -> Value {
        to_graphql(&self.0)
    }
}

fn to_graphql(json: &serde_json::Value) -> Value {
    use serde_json::Value as J;
    match json {
        J::Null => Value::Null,
        J::Bool(b) => Value::Boolean(*b),
        J::Number(n) => Value::Number(n.clone()),
        J::String(s) => Value::String(s.clone()),
        J::Array(items) => Value::List(items.iter().map(to_graphql).collect()),
        J::Object(fields) => Value::Object(
            fields
                .iter()
                .map(|(k, v)| (async_graphql::Name::new(k), to_graphql(v)))
                .collect(),
        ),
    }
}

#[cfg(test)]
mod json_tests {
    use super::*;

    #[test]
    fn numbers_stay_numbers_on_the_way_out_and_in() {
        let doc = serde_json::json!({"seq": 7, "path": [1.5, -2], "ok": true, "s": "x"});
        let out = JsonValue(doc.clone()).to_value();
        let written = serde_json::to_string(&out).unwrap();
        assert_eq!(
            serde_json::from_str::<serde_json::Value>(&written).unwrap(),
            doc
        );
        assert_eq!(JsonValue::parse(out).unwrap(), JsonValue(doc));
    }
}
