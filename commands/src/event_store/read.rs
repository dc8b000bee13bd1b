//! Reading the ledger: a stream, a page from a seq, or every row as a stream.

use domain::{
    StreamName, Timestamp,
    ledger::{Hash, Row},
};
use futures::{Stream, StreamExt};
use serde_json::Value;
use sqlx::{FromRow, PgPool};
use uuid::Uuid;

/// An event as recorded, with its payload parsed.
#[derive(Debug, Clone, PartialEq)]
pub struct RecordedEvent {
    pub seq: i64,
    pub id: Uuid,
    pub stream: String,
    pub version: i32,
    pub event_type: String,
    pub actor: Option<Uuid>,
    pub at: Timestamp,
    pub payload: Value,
    pub prev_hash: Hash,
    pub hash: Hash,
}

#[derive(FromRow)]
struct EventRow {
    seq: i64,
    id: Uuid,
    stream: String,
    version: i32,
    #[sqlx(rename = "type")]
    event_type: String,
    actor: Option<Uuid>,
    recorded_at: chrono::DateTime<chrono::Utc>,
    payload: String,
    prev_hash: Vec<u8>,
    hash: Vec<u8>,
}

const COLUMNS: &str =
    "seq, id, stream, version, type, actor, recorded_at, payload::text AS payload, prev_hash, hash";

impl EventRow {
    fn into_row(self) -> Result<Row, sqlx::Error> {
        let hash_of = |bytes: &[u8], what: &str| {
            Hash::from_slice(bytes).map_err(|_| {
                sqlx::Error::Decode(format!("seq {}: {what} is not 32 bytes", self.seq).into())
            })
        };
        Ok(Row {
            seq: self.seq,
            id: self.id,
            version: self.version,
            actor: self.actor,
            at: Timestamp::from_datetime(self.recorded_at),
            prev: hash_of(&self.prev_hash, "prev_hash")?,
            hash: hash_of(&self.hash, "hash")?,
            stream: self.stream,
            event_type: self.event_type,
            payload: self.payload,
        })
    }

    fn into_recorded(self) -> Result<RecordedEvent, sqlx::Error> {
        let row = self.into_row()?;
        let payload =
            serde_json::from_str(&row.payload).map_err(|e| sqlx::Error::Decode(Box::new(e)))?;
        Ok(RecordedEvent {
            seq: row.seq,
            id: row.id,
            stream: row.stream,
            version: row.version,
            event_type: row.event_type,
            actor: row.actor,
            at: row.at,
            payload,
            prev_hash: row.prev,
            hash: row.hash,
        })
    }
}

/// The stream's events after `version` (0: all of them), in order.
pub(super) async fn read_stream(
    pool: &PgPool,
    stream: &StreamName,
    after: i32,
) -> Result<Vec<RecordedEvent>, sqlx::Error> {
    let sql =
        format!("SELECT {COLUMNS} FROM events WHERE stream = $1 AND version > $2 ORDER BY version");
    sqlx::query_as::<_, EventRow>(sqlx::AssertSqlSafe(sql))
        .bind(stream.as_str())
        .bind(after)
        .fetch_all(pool)
        .await?
        .into_iter()
        .map(EventRow::into_recorded)
        .collect()
}

/// Events with `seq >= from_seq`, at most `limit`, in order.
pub async fn read_all(
    pool: &PgPool,
    from_seq: i64,
    limit: i64,
) -> Result<Vec<RecordedEvent>, sqlx::Error> {
    let sql = format!("SELECT {COLUMNS} FROM events WHERE seq >= $1 ORDER BY seq LIMIT $2");
    sqlx::query_as::<_, EventRow>(sqlx::AssertSqlSafe(sql))
        .bind(from_seq)
        .bind(limit)
        .fetch_all(pool)
        .await?
        .into_iter()
        .map(EventRow::into_recorded)
        .collect()
}

/// Every row with `seq >= from_seq`, in order, as one streamed query: memory stays
/// bounded whatever the ledger's size (rows are decoded as they arrive).
pub fn row_stream(
    pool: &PgPool,
    from_seq: i64,
) -> impl Stream<Item = Result<Row, sqlx::Error>> + '_ {
    sqlx::query_as::<_, EventRow>(
        "SELECT seq, id, stream, version, type, actor, recorded_at, payload::text AS payload, prev_hash, hash \
         FROM events WHERE seq >= $1 ORDER BY seq",
    )
    .bind(from_seq)
    .fetch(pool)
    .map(|row| row.and_then(EventRow::into_row))
}

/// Every row of the named streams with `seq <= upto`, in seq order, streamed (a
/// patient's export: their own stream, their records', their proxies' and links').
pub fn rows_of_streams<'a>(
    pool: &'a PgPool,
    streams: &'a [String],
    upto: i64,
) -> impl Stream<Item = Result<Row, sqlx::Error>> + 'a {
    sqlx::query_as::<_, EventRow>(
        "SELECT seq, id, stream, version, type, actor, recorded_at, payload::text AS payload, prev_hash, hash \
         FROM events WHERE stream = ANY($1) AND seq <= $2 ORDER BY seq",
    )
    .bind(streams)
    .bind(upto)
    .fetch(pool)
    .map(|row| row.and_then(EventRow::into_row))
}

/// Which events a page of the ledger holds.
#[derive(Debug, Clone, Default)]
pub struct LedgerFilter {
    /// Only events with `seq >= from_seq`.
    pub from_seq: Option<i64>,
    pub event_type: Option<String>,
    pub stream: Option<String>,
}

/// A page of the ledger in seq order: the events the filter holds with `seq > after`, at
/// most `limit`. One statement per shape of filter, so each has a plan that uses its index
/// (`events_type_seq`, the `(stream, version)` key, or the primary key).
pub async fn read_page(
    pool: &PgPool,
    filter: &LedgerFilter,
    after: Option<i64>,
    limit: i64,
) -> Result<Vec<RecordedEvent>, sqlx::Error> {
    let from = filter
        .from_seq
        .unwrap_or(1)
        .max(after.map_or(1, |a| a.saturating_add(1)));
    let condition = match (&filter.event_type, &filter.stream) {
        (None, None) => "seq >= $1",
        (Some(_), None) => "type = $3 AND seq >= $1",
        (None, Some(_)) => "stream = $3 AND seq >= $1",
        (Some(_), Some(_)) => "stream = $4 AND type = $3 AND seq >= $1",
    };
    let sql = format!("SELECT {COLUMNS} FROM events WHERE {condition} ORDER BY seq LIMIT $2");
    let query = sqlx::query_as::<_, EventRow>(sqlx::AssertSqlSafe(sql))
        .bind(from)
        .bind(limit);
    let query = match (&filter.event_type, &filter.stream) {
        (None, None) => query,
        (Some(t), None) => query.bind(t),
        (None, Some(s)) => query.bind(s),
        (Some(t), Some(s)) => query.bind(t).bind(s),
    };
    query
        .fetch_all(pool)
        .await?
        .into_iter()
        .map(EventRow::into_recorded)
        .collect()
}

/// A stream's events with `seq <= until`, in order: the stream as it stood then.
pub async fn read_stream_until(
    pool: &PgPool,
    stream: &StreamName,
    until: i64,
) -> Result<Vec<RecordedEvent>, sqlx::Error> {
    let sql =
        format!("SELECT {COLUMNS} FROM events WHERE stream = $1 AND seq <= $2 ORDER BY version");
    sqlx::query_as::<_, EventRow>(sqlx::AssertSqlSafe(sql))
        .bind(stream.as_str())
        .bind(until)
        .fetch_all(pool)
        .await?
        .into_iter()
        .map(EventRow::into_recorded)
        .collect()
}
