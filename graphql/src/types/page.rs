//! Relay paging: `PageInfo`, the page size rule, and opaque cursors. A cursor is the
//! unpadded base64url of the position it names (`<micros>:<uuid>` for rows ordered by
//! time then id), so clients treat it as opaque and the server can read it back.

use crate::error::{Code, error};
use async_graphql::{Result, SimpleObject};
use base64::{Engine as _, engine::general_purpose::URL_SAFE_NO_PAD};
use domain::Timestamp;
use uuid::Uuid;

pub const DEFAULT_PAGE: i32 = 20;
pub const MAX_PAGE: i32 = 100;

#[derive(SimpleObject)]
pub struct PageInfo {
    pub has_next_page: bool,
    pub end_cursor: Option<String>,
}

/// An edge of a connection: it knows its cursor.
pub trait Edge {
    fn cursor(&self) -> &str;
}

/// Implements `Edge` for edge types with a `cursor: String` field.
macro_rules! edges {
    ($($edge:ty),+ $(,)?) => {$(
        impl $crate::types::page::Edge for $edge {
            fn cursor(&self) -> &str {
                &self.cursor
            }
        }
    )+};
}
pub(crate) use edges;

/// One page of a connection from `rows` fetched as `limit + 1` (the extra row only says
/// there is a next page): each kept row made an edge by `edge` (`None` leaves it out),
/// and the page's `PageInfo`. Every connection is built here.
pub fn page<R, E: Edge>(
    mut rows: Vec<R>,
    limit: i64,
    edge: impl FnMut(R) -> Option<E>,
) -> (Vec<E>, PageInfo) {
    let has_next_page = rows.len() as i64 > limit;
    rows.truncate(usize::try_from(limit).unwrap_or(0));
    let edges: Vec<E> = rows.into_iter().filter_map(edge).collect();
    let info = PageInfo {
        has_next_page,
        end_cursor: edges.last().map(|e| e.cursor().to_owned()),
    };
    (edges, info)
}

/// A connection's complexity: its children's, once per row it may return, so a request
/// that asks 100 rows of 100 rows counts what it costs (async-graphql counts a field's
/// children once unless told).
pub fn cost(first: Option<i32>, child_complexity: usize) -> usize {
    let rows = first.unwrap_or(DEFAULT_PAGE).clamp(1, MAX_PAGE);
    usize::try_from(rows)
        .unwrap_or(1)
        .saturating_mul(child_complexity)
        .saturating_add(1)
}

/// `first`, checked: 1 to `MAX_PAGE`, `DEFAULT_PAGE` when absent.
pub fn page_size(first: Option<i32>) -> Result<i64> {
    match first.unwrap_or(DEFAULT_PAGE) {
        n @ 1..=MAX_PAGE => Ok(i64::from(n)),
        _ => Err(error(
            Code::BadUserInput,
            format!("first must be between 1 and {MAX_PAGE}"),
        )),
    }
}

pub fn time_id_cursor(at: Timestamp, id: Uuid) -> String {
    URL_SAFE_NO_PAD.encode(format!("{}:{id}", at.as_micros()))
}

fn bad_cursor() -> async_graphql::Error {
    error(
        Code::BadUserInput,
        "the cursor is not one this list gave out",
    )
}

/// A cursor's text, or the error every list answers for one it did not give out.
fn cursor_text(cursor: &str) -> Result<String> {
    let bytes = URL_SAFE_NO_PAD.decode(cursor).map_err(|_| bad_cursor())?;
    String::from_utf8(bytes).map_err(|_| bad_cursor())
}

pub fn parse_time_id_cursor(cursor: &str) -> Result<(Timestamp, Uuid)> {
    let bad = bad_cursor;
    let text = cursor_text(cursor)?;
    let (micros, id) = text.split_once(':').ok_or_else(bad)?;
    let micros = micros.parse().map_err(|_| bad())?;
    let id = Uuid::try_parse(id).map_err(|_| bad())?;
    Ok((Timestamp::from_micros(micros), id))
}

/// A cursor for rows ordered by ledger position.
pub fn seq_cursor(seq: i64) -> String {
    URL_SAFE_NO_PAD.encode(format!("seq:{seq}"))
}

pub fn parse_seq_cursor(cursor: &str) -> Result<i64> {
    cursor_text(cursor)?
        .strip_prefix("seq:")
        .and_then(|n| n.parse().ok())
        .ok_or_else(bad_cursor)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_cursor_reads_back_and_junk_is_refused() {
        let at = Timestamp::from_micros(1_795_514_400_123_456);
        let id = Uuid::from_u128(42);
        assert_eq!(
            parse_time_id_cursor(&time_id_cursor(at, id)).unwrap(),
            (at, id)
        );
        assert!(parse_time_id_cursor("not a cursor").is_err());
        assert!(page_size(Some(0)).is_err());
        assert!(page_size(Some(101)).is_err());
        assert_eq!(page_size(None).unwrap(), 20);
        assert_eq!(parse_seq_cursor(&seq_cursor(77)).unwrap(), 77);
        assert!(parse_seq_cursor(&time_id_cursor(at, id)).is_err());
    }
}
