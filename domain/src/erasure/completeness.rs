//! The erasure certificate's arithmetic (DESIGN.md §11): given the epochs that wrapped
//! an erased key and where each epoch stands, is the erasure complete, since when, and if
//! not, by when it will be (the time the newest of them is due to be retired).

use super::EpochNumber;
use crate::Timestamp;

/// What the certificate needs of one epoch.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct EpochState {
    pub number: EpochNumber,
    pub started_at: Timestamp,
    pub retired_at: Option<Timestamp>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Completeness {
    pub complete: bool,
    pub complete_at: Option<Timestamp>,
    /// Until complete: when the scheduled rotation will complete it (`None` when no
    /// rotation can: an erasure from before key epochs).
    pub due_by: Option<Timestamp>,
}

/// `wrapped_by`: the epochs that ever wrapped the keys (0: before key epochs, the master
/// key's own wrap, which no rotation retires). `epochs`: every epoch there is.
/// `interval`: how long an epoch lasts (`MEDCHAIN_KEY_EPOCH`), in microseconds.
pub fn completeness(
    wrapped_by: &[EpochNumber],
    epochs: &[EpochState],
    interval_micros: i64,
) -> Completeness {
    let find = |n: EpochNumber| epochs.iter().find(|e| e.number == n);
    let before_epochs = wrapped_by.is_empty() || wrapped_by.contains(&0);
    let retired: Option<Vec<Timestamp>> = wrapped_by
        .iter()
        .map(|&n| find(n).and_then(|e| e.retired_at))
        .collect();
    match retired {
        Some(times) if !before_epochs => Completeness {
            complete: true,
            complete_at: times.into_iter().max(),
            due_by: None,
        },
        _ => Completeness {
            complete: false,
            complete_at: None,
            // The newest epoch that wrapped them is retired by the rotation after it:
            // the one that starts when the epoch after it has run its course.
            due_by: if before_epochs {
                None
            } else {
                let newest = wrapped_by.iter().copied().max().unwrap_or(0);
                let next = find(newest + 1).or(find(newest));
                next.map(|e| e.started_at.plus_micros(interval_micros))
            },
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const HOUR: i64 = 3_600_000_000;

    fn t(hours: i64) -> Timestamp {
        Timestamp::from_micros(hours * HOUR)
    }

    fn epoch(number: EpochNumber, started: i64, retired: Option<i64>) -> EpochState {
        EpochState {
            number,
            started_at: t(started),
            retired_at: retired.map(t),
        }
    }

    #[test]
    fn pending_until_the_next_rotation_then_complete_when_the_last_epoch_went() {
        // Epoch 1 since 0h; the key lived in it and was erased; the next rotation (at
        // 24h) retires epoch 1.
        let before = completeness(&[1], &[epoch(1, 0, None)], 24 * HOUR);
        assert_eq!(
            before,
            Completeness {
                complete: false,
                complete_at: None,
                due_by: Some(t(24))
            }
        );
        // A rotation started epoch 2 at 3h (on demand) but has not finished epoch 1:
        // due when epoch 2's own term ends at the latest.
        let midway = completeness(&[1], &[epoch(1, 0, None), epoch(2, 3, None)], 24 * HOUR);
        assert_eq!(midway.due_by, Some(t(27)));
        let after = completeness(
            &[1, 2],
            &[
                epoch(1, 0, Some(3)),
                epoch(2, 3, Some(5)),
                epoch(3, 5, None),
            ],
            24 * HOUR,
        );
        assert_eq!(
            after,
            Completeness {
                complete: true,
                complete_at: Some(t(5)),
                due_by: None
            }
        );
    }

    #[test]
    fn before_epochs_is_never_complete_and_has_no_date() {
        let c = completeness(&[0, 1], &[epoch(1, 0, Some(2))], HOUR);
        assert!(!c.complete);
        assert_eq!(c.due_by, None);
    }
}
