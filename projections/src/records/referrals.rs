//! The referrals view's reads: every referral with its decision. The note stays sealed
//! under the record's data key; `open_note` opens it for those the API lets see it.

use crate::users::ReadError;
use chrono::{DateTime, Utc};
use commands::keys::{DataKeyState, KeyRing};
use domain::{Sealed, Timestamp, account::UserId, record::RecordId};
use sqlx::PgPool;
use uuid::Uuid;

#[derive(Debug, Clone, sqlx::FromRow)]
pub struct ReferralView {
    pub id: Uuid,
    pub record_id: Uuid,
    pub owner_id: Uuid,
    pub from_id: Uuid,
    pub to_id: Uuid,
    note: Option<String>,
    pub status: String,
    pub requested_at: DateTime<Utc>,
    pub decided_at: Option<DateTime<Utc>>,
    pub share_id: Option<Uuid>,
}

impl ReferralView {
    pub fn record(&self) -> RecordId {
        RecordId::from_uuid(self.record_id)
    }

    pub fn requested_at(&self) -> Timestamp {
        Timestamp::from_datetime(self.requested_at)
    }

    pub fn decided_at(&self) -> Option<Timestamp> {
        self.decided_at.map(Timestamp::from_datetime)
    }

    /// Whether `person` is the owner or one of its two doctors.
    pub fn involves(&self, person: UserId) -> bool {
        let p = person.as_uuid();
        p == self.owner_id || p == self.from_id || p == self.to_id
    }

    /// The note in clear, with the record's data key; `None` when there is none or the
    /// record was erased.
    pub async fn open_note(
        &self,
        keys: &KeyRing,
        pool: &PgPool,
    ) -> Result<Option<String>, ReadError> {
        let Some(sealed) = &self.note else {
            return Ok(None);
        };
        let key = match keys.data_key(pool, self.record_id).await? {
            DataKeyState::Live(key) => key,
            DataKeyState::Destroyed | DataKeyState::Missing => return Ok(None),
        };
        let corrupt =
            |e: &dyn std::fmt::Display| ReadError::Corrupt(format!("referral {}: {e}", self.id));
        let sealed = Sealed::parse(sealed).map_err(|e| corrupt(&e))?;
        key.open_string(
            self.record().stream().as_str(),
            commands::records::referrals::NOTE_FIELD,
            &sealed,
        )
        .map(Some)
        .map_err(|e| corrupt(&e))
    }
}

const SELECT: &str = "SELECT id, record_id, owner_id, from_id, to_id, note, status, requested_at, \
        decided_at, share_id FROM referrals ";

pub async fn find(pool: &PgPool, id: Uuid) -> Result<Option<ReferralView>, ReadError> {
    Ok(
        sqlx::query_as(sqlx::AssertSqlSafe(format!("{SELECT} WHERE id = $1")))
            .bind(id)
            .fetch_optional(pool)
            .await?,
    )
}

/// The referrals `person` is part of (as the owner or either doctor), newest first;
/// `status`: PENDING, APPROVED or DECLINED.
pub async fn involving(
    pool: &PgPool,
    person: UserId,
    status: Option<&str>,
) -> Result<Vec<ReferralView>, ReadError> {
    Ok(sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "{SELECT} WHERE (owner_id = $1 OR from_id = $1 OR to_id = $1) \
           AND ($2::text IS NULL OR status = $2) \
         ORDER BY requested_seq DESC LIMIT 500"
    )))
    .bind(person.as_uuid())
    .bind(status)
    .fetch_all(pool)
    .await?)
}
