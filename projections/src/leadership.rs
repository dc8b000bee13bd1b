//! Which process applies each projector's events: the one holding the projector's
//! leadership, a session-level advisory lock taken on a connection of the process's own.
//! The others read the same events and skip what their projector would skip (so their
//! own read-your-writes waits need nothing from anyone), and follow the leader's progress
//! (its NOTIFYs) for the rest.
//!
//! Before, every process tried every batch and all but one found the batch lock taken:
//! with four processes, each event cost each projector four lock transactions, and
//! `medchain bench scale` counted 8.8 database transactions a request against 3.4 with
//! one process. The batch lock stays: while leadership passes (a leader's connection
//! lost and its lock not yet seen gone), two processes may both believe they lead, and
//! the lock and the checkpoint check keep their batches apart.
//!
//! A process that loses its connection leads nothing until it has a new one; a process
//! that ends takes its locks with it, and another takes them within `RETRY`. The
//! leaderships are shared out: each process counts the leadership connections on the
//! database (`application_name`) and holds no more than its fair share, letting go of
//! the rest for a newcomer to take (the first process to start would otherwise lead
//! every projector, and its requests wait behind all of their work).

use sqlx::{Connection as _, PgConnection, PgPool};
use std::collections::HashMap;
use std::time::Duration;
use tokio::sync::watch;

/// The advisory lock class of leaderships (the batch lock's is `batch::LOCK_CLASS`).
const LEADER_CLASS: i32 = 0x6d64;
/// How often a follower asks for a leadership, and a leader checks its connection.
const RETRY: Duration = Duration::from_secs(1);
/// The leadership connections' `application_name`, by which processes count each other.
const APPLICATION: &str = "medchain-leadership";

/// Holds what leaderships it can, for as long as the process runs, and says which in
/// `leading` (one flag per projector name).
pub(crate) async fn hold(pool: PgPool, leading: HashMap<&'static str, watch::Sender<bool>>) {
    loop {
        let options = (*pool.connect_options())
            .clone()
            .application_name(APPLICATION);
        match PgConnection::connect_with(&options).await {
            Ok(mut conn) => {
                if let Err(e) = lead_on(&mut conn, &leading).await {
                    tracing::warn!(error = %e, "the projector leadership connection was lost; reconnecting");
                }
                for flag in leading.values() {
                    flag.send_if_modified(|led| std::mem::replace(led, false));
                }
            }
            Err(e) => {
                tracing::warn!(error = %e, "cannot connect for projector leadership; retrying");
            }
        }
        tokio::time::sleep(RETRY).await;
    }
}

async fn lead_on(
    conn: &mut PgConnection,
    leading: &HashMap<&'static str, watch::Sender<bool>>,
) -> Result<(), sqlx::Error> {
    loop {
        let processes: i64 = sqlx::query_scalar(
            "SELECT count(*) FROM pg_stat_activity \
             WHERE application_name = $1 AND datname = current_database()",
        )
        .bind(APPLICATION)
        .fetch_one(&mut *conn)
        .await?;
        let fair = leading
            .len()
            .div_ceil(usize::try_from(processes.max(1)).unwrap_or(1));
        let mut held = leading.values().filter(|flag| *flag.borrow()).count();
        for (name, flag) in leading {
            let leads = *flag.borrow();
            if leads && held > fair {
                sqlx::query("SELECT pg_advisory_unlock($1, hashtext($2))")
                    .bind(LEADER_CLASS)
                    .bind(*name)
                    .execute(&mut *conn)
                    .await?;
                flag.send_replace(false);
                held -= 1;
                tracing::debug!(projector = name, "handed the projector's lead on");
            } else if !leads && held < fair {
                let taken: bool =
                    sqlx::query_scalar("SELECT pg_try_advisory_lock($1, hashtext($2))")
                        .bind(LEADER_CLASS)
                        .bind(*name)
                        .fetch_one(&mut *conn)
                        .await?;
                if taken {
                    tracing::debug!(projector = name, "this process leads the projector");
                    flag.send_replace(true);
                    held += 1;
                }
            }
        }
        tokio::time::sleep(RETRY).await;
        // Still connected (and so still holding what it holds)?
        conn.ping().await?;
    }
}
