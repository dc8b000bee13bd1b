//! A point in time with microsecond precision, UTC: the ledger's `at`.
//!
//! Stored as microseconds since the Unix epoch so that what the database keeps
//! (`timestamptz`, microseconds) and what the hash covers never disagree.

use chrono::{DateTime, SecondsFormat, Utc};
use std::fmt;

#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Timestamp(i64);

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
#[error("not an RFC 3339 time with a zone (for example 2026-11-24T10:15:30.123456Z): {0:?}")]
pub struct InvalidTimestamp(String);

impl Timestamp {
    pub const fn from_micros(micros: i64) -> Self {
        Self(micros)
    }

    pub const fn as_micros(self) -> i64 {
        self.0
    }

    /// Truncates to microseconds: the precision the ledger keeps.
    pub fn from_datetime(at: DateTime<Utc>) -> Self {
        Self(at.timestamp_micros())
    }

    pub fn to_datetime(self) -> DateTime<Utc> {
        DateTime::from_timestamp_micros(self.0).expect("every i64 microsecond count within chrono's range")
    }

    /// Accepts any RFC 3339 time with an offset; sub-microsecond digits are dropped.
    pub fn parse(raw: &str) -> Result<Self, InvalidTimestamp> {
        DateTime::parse_from_rfc3339(raw.trim())
            .map(|t| Self::from_datetime(t.with_timezone(&Utc)))
            .map_err(|_| InvalidTimestamp(raw.to_owned()))
    }

    pub fn plus_micros(self, micros: i64) -> Self {
        Self(self.0.saturating_add(micros))
    }
}

/// `2026-11-24T10:15:30.123456Z`: always six fractional digits and `Z` (DESIGN.md §3).
impl fmt::Display for Timestamp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.to_datetime().to_rfc3339_opts(SecondsFormat::Micros, true))
    }
}

impl fmt::Debug for Timestamp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Timestamp({self})")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn always_six_fractional_digits_and_z() {
        assert_eq!(Timestamp::from_micros(0).to_string(), "1970-01-01T00:00:00.000000Z");
        let t = Timestamp::parse("2026-11-24T10:15:30.1234567+01:00").unwrap();
        assert_eq!(t.to_string(), "2026-11-24T09:15:30.123456Z");
    }

    #[test]
    fn round_trips_through_its_text() {
        let t = Timestamp::from_micros(1_795_000_000_123_456);
        assert_eq!(Timestamp::parse(&t.to_string()), Ok(t));
    }

    #[test]
    fn refuses_a_time_without_zone() {
        assert!(Timestamp::parse("2026-11-24T10:15:30").is_err());
        assert!(Timestamp::parse("yesterday").is_err());
    }
}
