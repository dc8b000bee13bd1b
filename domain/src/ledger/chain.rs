//! Chain verification as a fold: rows go in by seq, the first break comes out.
//!
//! Hashing each row is independent of the others, so callers may recompute hashes in
//! parallel and feed them in order through `check_with`; the links (seq without gaps,
//! `prev` equal to the previous hash, the checkpoint's hash at its seq) are checked here.

use super::{Hash, PayloadError, Row, checkpoint::Checkpoint};
use std::fmt;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChainBreak {
    /// The first seq at which the chain is not what it should be.
    pub seq: i64,
    pub reason: BreakReason,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum BreakReason {
    Missing { found: Option<i64> },
    PrevMismatch,
    HashMismatch,
    BadPayload(PayloadError),
    CheckpointMismatch { signed: Hash },
    Truncated { checkpoint_seq: i64, head_seq: i64 },
}

impl fmt::Display for ChainBreak {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let seq = self.seq;
        match &self.reason {
            BreakReason::Missing { found: Some(found) } => {
                write!(
                    f,
                    "seq {seq}: missing (the next row is seq {found}): an event was removed or reordered"
                )
            }
            BreakReason::Missing { found: None } => write!(f, "seq {seq}: missing"),
            BreakReason::PrevMismatch => {
                write!(
                    f,
                    "seq {seq}: prev_hash is not the hash of seq {}: the chain is broken here",
                    seq - 1
                )
            }
            BreakReason::HashMismatch => {
                write!(
                    f,
                    "seq {seq}: stored hash does not match the recomputed one: the event was changed"
                )
            }
            BreakReason::BadPayload(e) => write!(f, "seq {seq}: {e}"),
            BreakReason::CheckpointMismatch { signed } => write!(
                f,
                "seq {seq}: hash differs from the signed checkpoint ({signed}): the chain was rewritten up to here"
            ),
            BreakReason::Truncated {
                checkpoint_seq,
                head_seq,
            } => write!(
                f,
                "seq {seq}: the ledger ends at seq {head_seq} but a signed checkpoint covers seq {checkpoint_seq}: events were removed"
            ),
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct VerifiedChain {
    pub events: i64,
    /// The hash of the last event, or `Hash::ZERO` for an empty ledger.
    pub head: Hash,
}

#[derive(Debug, Default)]
pub struct ChainVerifier {
    last_seq: i64,
    prev: Option<Hash>,
    checkpoint: Option<Checkpoint>,
    scratch: Vec<u8>,
}

impl ChainVerifier {
    pub fn new() -> Self {
        Self::default()
    }

    /// Also requires the hash at the checkpoint's seq to equal the signed one, and the
    /// ledger to reach that seq. Check the checkpoint's signature before trusting it.
    pub fn with_checkpoint(checkpoint: Checkpoint) -> Self {
        Self {
            checkpoint: Some(checkpoint),
            ..Self::default()
        }
    }

    pub fn check(&mut self, row: &Row) -> Result<(), ChainBreak> {
        let mut scratch = std::mem::take(&mut self.scratch);
        let recomputed = row.recompute_hash(&mut scratch);
        self.scratch = scratch;
        self.check_with(row, recomputed)
    }

    /// Checks one row whose hash the caller has already recomputed.
    pub fn check_with(
        &mut self,
        row: &Row,
        recomputed: Result<Hash, PayloadError>,
    ) -> Result<(), ChainBreak> {
        let expected = self.last_seq + 1;
        let fail = |reason| {
            Err(ChainBreak {
                seq: expected,
                reason,
            })
        };
        if row.seq != expected {
            return fail(BreakReason::Missing {
                found: Some(row.seq),
            });
        }
        if row.prev != self.prev.unwrap_or(Hash::ZERO) {
            return fail(BreakReason::PrevMismatch);
        }
        match recomputed {
            Err(e) => return fail(BreakReason::BadPayload(e)),
            Ok(h) if h != row.hash => return fail(BreakReason::HashMismatch),
            Ok(_) => {}
        }
        if let Some(cp) = &self.checkpoint
            && cp.seq == row.seq
            && cp.hash != row.hash
        {
            return fail(BreakReason::CheckpointMismatch { signed: cp.hash });
        }
        self.last_seq = row.seq;
        self.prev = Some(row.hash);
        Ok(())
    }

    pub fn finish(self) -> Result<VerifiedChain, ChainBreak> {
        if let Some(cp) = &self.checkpoint
            && cp.seq > self.last_seq
        {
            return Err(ChainBreak {
                seq: self.last_seq + 1,
                reason: BreakReason::Truncated {
                    checkpoint_seq: cp.seq,
                    head_seq: self.last_seq,
                },
            });
        }
        Ok(VerifiedChain {
            events: self.last_seq,
            head: self.prev.unwrap_or(Hash::ZERO),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{Timestamp, ledger::CanonicalPayload};
    use uuid::Uuid;

    fn chain(n: i64) -> Vec<Row> {
        let mut prev = Hash::ZERO;
        (1..=n)
            .map(|seq| {
                let payload = CanonicalPayload::from_value(&serde_json::json!({"n": seq})).unwrap();
                let mut row = Row {
                    seq,
                    id: Uuid::new_v4(),
                    stream: "test-9b2c6f1e-8a7d-4c3b-9e2f-1a2b3c4d5e6f".into(),
                    version: seq as i32,
                    event_type: "Tested".into(),
                    actor: None,
                    at: Timestamp::from_micros(seq * 1_000_000),
                    payload: payload.as_str().into(),
                    prev,
                    hash: Hash::ZERO,
                };
                row.hash = row.recompute_hash(&mut Vec::new()).unwrap();
                prev = row.hash;
                row
            })
            .collect()
    }

    fn verify(rows: &[Row], checkpoint: Option<Checkpoint>) -> Result<VerifiedChain, ChainBreak> {
        let mut v = checkpoint.map_or_else(ChainVerifier::new, ChainVerifier::with_checkpoint);
        rows.iter().try_for_each(|r| v.check(r))?;
        v.finish()
    }

    #[test]
    fn an_intact_chain_verifies_to_its_head() {
        let rows = chain(5);
        assert_eq!(
            verify(&rows, None),
            Ok(VerifiedChain {
                events: 5,
                head: rows[4].hash
            })
        );
        assert_eq!(
            verify(&[], None),
            Ok(VerifiedChain {
                events: 0,
                head: Hash::ZERO
            })
        );
    }

    #[test]
    fn a_changed_payload_is_named() {
        let mut rows = chain(5);
        rows[2].payload = r#"{"n":99}"#.into();
        assert_eq!(verify(&rows, None).unwrap_err().seq, 3);
    }

    #[test]
    fn a_removed_row_is_named() {
        let mut rows = chain(5);
        rows.remove(1);
        let err = verify(&rows, None).unwrap_err();
        assert_eq!(err.seq, 2);
        assert!(err.to_string().contains("missing"), "{err}");
    }

    #[test]
    fn swapped_rows_are_named() {
        let mut rows = chain(5);
        let (a, b) = (rows[1].clone(), rows[2].clone());
        rows[1] = Row { seq: 2, ..b };
        rows[2] = Row { seq: 3, ..a };
        assert_eq!(verify(&rows, None).unwrap_err().seq, 2);
    }

    #[test]
    fn a_rehashed_tail_passes_alone_but_not_against_a_checkpoint() {
        let rows = chain(5);
        let checkpoint = Checkpoint {
            seq: 4,
            hash: rows[3].hash,
            root: None,
            at: Timestamp::from_micros(0),
        };
        let mut forged = rows[..2].to_vec();
        let mut prev = rows[1].hash;
        for r in &rows[2..] {
            let mut f = Row {
                payload: r#"{"forged":1}"#.into(),
                prev,
                ..r.clone()
            };
            f.hash = f.recompute_hash(&mut Vec::new()).unwrap();
            prev = f.hash;
            forged.push(f);
        }
        assert!(verify(&forged, None).is_ok());
        assert_eq!(verify(&forged, Some(checkpoint)).unwrap_err().seq, 4);
    }

    #[test]
    fn a_truncated_tail_fails_against_a_checkpoint() {
        let rows = chain(5);
        let checkpoint = Checkpoint {
            seq: 5,
            hash: rows[4].hash,
            root: None,
            at: Timestamp::from_micros(0),
        };
        let err = verify(&rows[..3], Some(checkpoint)).unwrap_err();
        assert_eq!(err.seq, 4);
        assert!(matches!(
            err.reason,
            BreakReason::Truncated {
                checkpoint_seq: 5,
                head_seq: 3
            }
        ));
    }
}
