//! A key epoch's life on the ledger: its key was destroyed (`KeyEpochRetired`). The
//! epoch's start and its key are not ledger facts (the key never leaves the epoch store);
//! its retirement is, because an erasure certificate rests on it and auditors check it.
//! Each epoch has its own stream, `key_epoch-<number as a UUID>`, so retiring twice (a
//! rotation resumed after a crash) decides nothing the second time.

use crate::StreamName;
use serde::{Deserialize, Serialize};
use uuid::Uuid;

/// An epoch's number: 1 for the first, one more at each rotation.
pub type EpochNumber = u32;

pub const KEY_EPOCH_CATEGORY: &str = "key_epoch";

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct KeyEpochRetired {
    pub epoch: EpochNumber,
}

crate::domain_events! {
    pub enum KeyEpochEvent {
        KeyEpochRetired,
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct KeyEpoch {
    number: EpochNumber,
    retired: bool,
}

impl KeyEpoch {
    pub fn is_retired(&self) -> bool {
        self.retired
    }
}

impl crate::Aggregate for KeyEpoch {
    type Id = EpochNumber;
    type Event = KeyEpochEvent;

    fn new(number: EpochNumber) -> Self {
        Self {
            number,
            retired: false,
        }
    }

    fn stream(number: EpochNumber) -> StreamName {
        StreamName::new(KEY_EPOCH_CATEGORY, Uuid::from_u128(u128::from(number)))
            .expect("\"key_epoch\" is a valid stream category")
    }

    fn apply(&mut self, event: &KeyEpochEvent) {
        match event {
            KeyEpochEvent::KeyEpochRetired(_) => self.retired = true,
        }
    }
}

/// The epoch's key is gone from the store: say so, once.
pub fn retire(state: &KeyEpoch) -> Vec<KeyEpochEvent> {
    if state.retired {
        return Vec::new();
    }
    vec![
        KeyEpochRetired {
            epoch: state.number,
        }
        .into(),
    ]
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Aggregate;

    #[test]
    fn an_epoch_retires_once_on_its_own_stream() {
        let mut epoch = KeyEpoch::new(3);
        let events = retire(&epoch);
        assert_eq!(events, vec![KeyEpochRetired { epoch: 3 }.into()]);
        epoch.apply(&events[0]);
        assert!(epoch.is_retired());
        assert!(retire(&epoch).is_empty());
        assert_eq!(
            KeyEpoch::stream(3).as_str(),
            "key_epoch-00000000-0000-0000-0000-000000000003"
        );
    }
}
