//! Hidden developer commands that the end-to-end tests drive as real processes.

use crate::{
    cli::Common,
    database::{Database, Purpose},
};
use commands::{EventStore, ExpectedVersion, NewEvent, SystemClock};
use domain::{EventType, StreamName};
use std::{io::Write, sync::Arc};
use uuid::Uuid;

/// Appends from 8 concurrent writers until killed, printing `<seq> <id>` on stdout for
/// every append the appender acknowledged, flushed before the next one starts.
pub async fn append_loop(common: &Common) -> anyhow::Result<()> {
    let db = Database::open(common, Purpose::Command, 4).await?;
    let store = EventStore::start(db.pool.clone(), Arc::new(SystemClock));
    let event_type = EventType::parse("CrashTested")?;
    let writers: Vec<_> = (0..8)
        .map(|w| {
            let (store, event_type) = (store.clone(), event_type.clone());
            tokio::spawn(async move {
                let stream = StreamName::new("crash", Uuid::new_v4())?;
                for version in 0.. {
                    let event = NewEvent::new(
                        event_type.clone(),
                        None,
                        &serde_json::json!({"writer": w, "n": version}),
                    )?;
                    let id = event.id;
                    let appended = store
                        .append(&stream, ExpectedVersion::Exact(version), vec![event])
                        .await?;
                    let mut out = std::io::stdout().lock();
                    writeln!(out, "{} {id}", appended.last_seq)?;
                    out.flush()?;
                }
                anyhow::Ok(())
            })
        })
        .collect();
    for w in writers {
        w.await??;
    }
    Ok(())
}
