//! How busy the ledger has been: events per UTC day, for the administrators' chart.
//! A range read on `events_recorded_at`, so its cost is the days asked for, not the
//! ledger's size.

use domain::Timestamp;
use sqlx::PgPool;

/// `(day as YYYY-MM-DD, events)` for each UTC day from `since` on that has any.
pub async fn events_per_day(
    pool: &PgPool,
    since: Timestamp,
) -> Result<Vec<(String, i64)>, sqlx::Error> {
    sqlx::query_as(
        "SELECT to_char(recorded_at AT TIME ZONE 'UTC', 'YYYY-MM-DD') AS day, count(*) \
         FROM events WHERE recorded_at >= $1 GROUP BY 1 ORDER BY 1",
    )
    .bind(since.to_datetime())
    .fetch_all(pool)
    .await
}
