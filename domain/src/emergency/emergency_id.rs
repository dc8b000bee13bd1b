//! An emergency access's id; the stream that holds it is its doctor's
//! (`emergency-<doctor id>`), named by `Emergencies::stream`.

use serde::{Deserialize, Serialize};
use std::fmt;
use uuid::Uuid;

/// The stream category of a doctor's emergency accesses.
pub const EMERGENCY_CATEGORY: &str = "emergency";

#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(transparent)]
pub struct EmergencyId(Uuid);

impl EmergencyId {
    pub const fn from_uuid(id: Uuid) -> Self {
        Self(id)
    }

    pub const fn as_uuid(&self) -> Uuid {
        self.0
    }
}

impl fmt::Display for EmergencyId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(&self.0.hyphenated(), f)
    }
}

impl fmt::Debug for EmergencyId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "EmergencyId({})", self.0.hyphenated())
    }
}
