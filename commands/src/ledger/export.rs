//! Export: the ledger as JSON Lines, one event a line (DESIGN.md §8), streamed.

use crate::event_store::{row_stream, rows_of_streams};
use futures::StreamExt;
use sqlx::PgPool;
use std::io::Write;

#[derive(Debug, thiserror::Error)]
pub enum ExportError {
    #[error("reading the ledger: {0}")]
    Database(#[from] sqlx::Error),
    #[error("writing the export: {0}")]
    Write(#[from] std::io::Error),
    #[error("seq {seq}: {source}")]
    Payload {
        seq: i64,
        source: domain::ledger::PayloadError,
    },
}

/// Event `seq`'s line of the export, if there is such an event.
pub async fn export_line_of(pool: &PgPool, seq: i64) -> Result<Option<String>, ExportError> {
    let Some(row) = row_stream(pool, seq).next().await.transpose()? else {
        return Ok(None);
    };
    if row.seq != seq {
        return Ok(None);
    }
    row.export_line()
        .map(Some)
        .map_err(|source| ExportError::Payload { seq, source })
}

/// Writes every event to `out`; returns how many.
pub async fn export_jsonl(pool: &PgPool, out: &mut impl Write) -> Result<i64, ExportError> {
    let mut rows = row_stream(pool, 1);
    let mut count = 0;
    while let Some(row) = rows.next().await {
        let row = row?;
        let line = row.export_line().map_err(|source| ExportError::Payload {
            seq: row.seq,
            source,
        })?;
        out.write_all(line.as_bytes())?;
        out.write_all(b"\n")?;
        count += 1;
    }
    out.flush()?;
    Ok(count)
}

/// The export lines (with their seqs) of every event of `streams` up to `upto`, in seq
/// order: the ledger part of a patient's export (DESIGN.md §12).
pub async fn export_lines_of_streams(
    pool: &PgPool,
    streams: &[String],
    upto: i64,
) -> Result<Vec<(i64, String)>, ExportError> {
    let mut rows = rows_of_streams(pool, streams, upto);
    let mut lines = Vec::new();
    while let Some(row) = rows.next().await {
        let row = row?;
        let line = row.export_line().map_err(|source| ExportError::Payload {
            seq: row.seq,
            source,
        })?;
        lines.push((row.seq, line));
    }
    Ok(lines)
}
