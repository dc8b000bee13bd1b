//! `medchain projections rebuild [NAME]` and `medchain projections check`.

use crate::{
    cli::{Common, ProjectionsCommand},
    database::{Database, Purpose},
};
use serde_json::json;

pub async fn run(common: &Common, command: ProjectionsCommand) -> anyhow::Result<i32> {
    let db = Database::open(common, Purpose::Command, 4).await?;
    let result = match command {
        ProjectionsCommand::Rebuild { name } => rebuild(&db.pool, name.as_deref()).await,
        ProjectionsCommand::Check => check(&db.pool).await,
    };
    db.close().await;
    result
}

async fn rebuild(pool: &sqlx::PgPool, name: Option<&str>) -> anyhow::Result<i32> {
    let chosen = match name {
        Some(name) => vec![projections::by_name(name).ok_or_else(|| {
            let known: Vec<_> = projections::all().iter().map(|p| p.name()).collect();
            anyhow::anyhow!(
                "no projector is named {name:?}; there are: {}",
                known.join(", ")
            )
        })?],
        None => projections::all(),
    };
    // Together: one read of the ledger, the projectors in parallel.
    let mut failed = false;
    for (name, rebuilt) in projections::rebuild_many(pool, &chosen).await {
        match rebuilt {
            Ok(rebuilt) => eprintln!(
                "rebuilt {name}: {} events replayed, up to seq {}",
                rebuilt.events, rebuilt.last_seq
            ),
            Err(e) => {
                eprintln!("{name} was not rebuilt: {e}");
                failed = true;
            }
        }
    }
    Ok(i32::from(failed))
}

/// Where each projector stands, then each one replayed into scratch tables up to that
/// point and compared with its live tables; exit 1 when one stopped or differs.
async fn check(pool: &sqlx::PgPool) -> anyhow::Result<i32> {
    let head = commands::ledger::ledger_head(pool).await?;
    let mut bad = false;
    let mut out = Vec::new();
    for projector in projections::all() {
        let row: Option<(i64, Option<i64>, Option<String>)> = sqlx::query_as(
            "SELECT last_seq, failed_seq, failure FROM projection_checkpoints WHERE name = $1",
        )
        .bind(projector.name())
        .fetch_optional(pool)
        .await?;
        let (last_seq, failed_seq, failure) = row.unwrap_or((0, None, None));
        bad |= failed_seq.is_some();
        let checked = match projections::check(pool, projector.as_ref()).await {
            Ok(checked) => checked,
            Err(e) => {
                bad = true;
                eprintln!("{}: cannot replay it to compare: {e}", projector.name());
                out.push(json!({
                    "name": projector.name(),
                    "lastSeq": last_seq,
                    "behind": head.seq - last_seq,
                    "failedSeq": failed_seq,
                    "failure": failure,
                    "checkError": e.to_string(),
                }));
                continue;
            }
        };
        bad |= !checked.same();
        for t in checked.tables.iter().filter(|t| !t.same()) {
            eprintln!(
                "{}: table {} differs from its replay up to seq {}: {} live row(s) not in the \
                 replay, {} replayed row(s) not live",
                checked.name, t.table, checked.seq, t.only_live, t.only_replayed
            );
        }
        let tables: Vec<_> = checked
            .tables
            .iter()
            .map(|t| {
                json!({
                    "table": t.table,
                    "rows": t.live_rows,
                    "hash": t.live_hash,
                    "replayedHash": t.replayed_hash,
                    "same": t.same(),
                    "onlyLive": t.only_live,
                    "onlyReplayed": t.only_replayed,
                })
            })
            .collect();
        out.push(json!({
            "name": projector.name(),
            "lastSeq": last_seq,
            "behind": head.seq - last_seq,
            "failedSeq": failed_seq,
            "failure": failure,
            "checkedAtSeq": checked.seq,
            "same": checked.same(),
            "tables": tables,
        }));
    }
    println!("{}", serde_json::to_string_pretty(&out)?);
    if !bad {
        eprintln!("every projection matches its replay");
    }
    Ok(if bad { 1 } else { 0 })
}
