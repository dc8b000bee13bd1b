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
