//! The legal holds view: every hold ever placed, whether it stands, for administrators'
//! list and for a person to see that one stands on their records (never why: the reason
//! stays sealed on the ledger).

use crate::{
    ProjectionError, Projector,
    projector::{read_as, stream_of},
    users::ReadError,
};
use commands::RecordedEvent;
use domain::{Timestamp, erasure::LegalHoldEvent};
use futures::{FutureExt, future::BoxFuture};
use sqlx::{PgConnection, PgPool};
use uuid::Uuid;

pub struct LegalHoldsProjector;

impl Projector for LegalHoldsProjector {
    fn name(&self) -> &'static str {
        "legal_holds"
    }

    fn tables(&self) -> &'static [&'static str] {
        &["legal_holds"]
    }

    fn event_types(&self) -> &'static [&'static str] {
        use domain::{
            EventName as _,
            erasure::{LegalHoldLifted, LegalHoldPlaced},
        };
        &[LegalHoldPlaced::NAME, LegalHoldLifted::NAME]
    }

    fn apply<'a>(
        &'a self,
        tx: &'a mut PgConnection,
        event: &'a RecordedEvent,
    ) -> BoxFuture<'a, Result<(), ProjectionError>> {
        async move {
            let id = stream_of(event)?.id();
            match read_as::<LegalHoldEvent>(event)? {
                LegalHoldEvent::LegalHoldPlaced(e) => {
                    sqlx::query(
                        "INSERT INTO legal_holds (id, subject, placed_by, placed_at, placed_seq) \
                         VALUES ($1, $2, $3, $4, $5)",
                    )
                    .bind(id)
                    .bind(e.subject.to_string())
                    .bind(e.by.as_uuid())
                    .bind(event.at.to_datetime())
                    .bind(event.seq)
                    .execute(&mut *tx)
                    .await?;
                }
                LegalHoldEvent::LegalHoldLifted(e) => {
                    sqlx::query(
                        "UPDATE legal_holds SET lifted_by = $2, lifted_at = $3 WHERE id = $1",
                    )
                    .bind(id)
                    .bind(e.by.as_uuid())
                    .bind(event.at.to_datetime())
                    .execute(&mut *tx)
                    .await?;
                }
            }
            Ok(())
        }
        .boxed()
    }
}

#[derive(Debug, Clone, sqlx::FromRow)]
pub struct LegalHoldView {
    pub id: Uuid,
    pub subject: String,
    pub placed_by: Uuid,
    pub placed_at: chrono::DateTime<chrono::Utc>,
    pub lifted_at: Option<chrono::DateTime<chrono::Utc>>,
}

impl LegalHoldView {
    pub fn placed_at(&self) -> Timestamp {
        Timestamp::from_datetime(self.placed_at)
    }

    pub fn lifted_at(&self) -> Option<Timestamp> {
        self.lifted_at.map(Timestamp::from_datetime)
    }
}

const COLUMNS: &str = "id, subject, placed_by, placed_at, lifted_at";

pub async fn find(pool: &PgPool, id: Uuid) -> Result<Option<LegalHoldView>, ReadError> {
    Ok(sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "SELECT {COLUMNS} FROM legal_holds WHERE id = $1"
    )))
    .bind(id)
    .fetch_optional(pool)
    .await?)
}

/// Every hold, newest first; `active`: only those that stand (or only those lifted).
pub async fn list(pool: &PgPool, active: Option<bool>) -> Result<Vec<LegalHoldView>, ReadError> {
    Ok(sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "SELECT {COLUMNS} FROM legal_holds \
         WHERE $1::boolean IS NULL OR (lifted_at IS NULL) = $1 \
         ORDER BY placed_at DESC, id LIMIT 1000"
    )))
    .bind(active)
    .fetch_all(pool)
    .await?)
}

/// Whether a hold stands on the record or on its owner.
pub async fn record_held(pool: &PgPool, record: Uuid, owner: Uuid) -> Result<bool, ReadError> {
    Ok(sqlx::query_scalar(
        "SELECT EXISTS (SELECT 1 FROM legal_holds WHERE lifted_at IS NULL \
                        AND subject IN ('record-' || $1::text, 'user-' || $2::text))",
    )
    .bind(record)
    .bind(owner)
    .fetch_one(pool)
    .await?)
}
