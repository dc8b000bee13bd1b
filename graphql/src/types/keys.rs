//! Key epochs and erasure certificates (API.graphql's erasure block, DESIGN.md §11).

use crate::scalars::{DateTime, Long};
use async_graphql::SimpleObject;

/// One key epoch: when it began and, once its key is destroyed, when it was retired.
#[derive(SimpleObject)]
#[graphql(name = "KeyEpoch")]
pub struct KeyEpoch {
    pub number: i32,
    pub started_at: DateTime,
    pub retired_at: Option<DateTime>,
    /// Nothing new is wrapped under it any more (a rotation's last pass).
    pub closed_at: Option<DateTime>,
    /// The live keys it wraps now.
    pub keys: Long,
}

impl From<commands::key_epochs::EpochView> for KeyEpoch {
    fn from(e: commands::key_epochs::EpochView) -> Self {
        Self {
            number: i32::try_from(e.number).unwrap_or(i32::MAX),
            started_at: DateTime(e.started_at),
            retired_at: e.retired_at.map(DateTime),
            closed_at: e.closed_at.map(DateTime),
            keys: Long(e.keys),
        }
    }
}

#[derive(SimpleObject)]
#[graphql(name = "ErasureCertificate")]
pub struct ErasureCertificate {
    pub subject: String,
    pub erased_at: DateTime,
    pub seq: Long,
    pub basis: Option<super::enums::ErasureBasis>,
    /// Every epoch that ever wrapped the erased keys (0: before key epochs).
    pub epochs: Vec<i32>,
    pub complete: bool,
    pub complete_at: Option<DateTime>,
    pub due_by: Option<DateTime>,
    pub document: crate::scalars::JsonValue,
}

impl ErasureCertificate {
    pub fn from_command(c: commands::key_epochs::Certificate) -> Result<Self, serde_json::Error> {
        Ok(Self {
            subject: c.subject.to_string(),
            erased_at: DateTime(c.erased_at),
            seq: Long(c.seq),
            basis: c.basis.map(Into::into),
            epochs: c
                .epochs
                .iter()
                .map(|&n| i32::try_from(n).unwrap_or(i32::MAX))
                .collect(),
            complete: c.completeness.complete,
            complete_at: c.completeness.complete_at.map(DateTime),
            due_by: c.completeness.due_by.map(DateTime),
            document: crate::scalars::JsonValue(serde_json::from_str(&c.document)?),
        })
    }
}
