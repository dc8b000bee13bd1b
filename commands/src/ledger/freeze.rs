//! A frozen ledger (migration 0026): one restored short of the newest head that was
//! signed or witnessed takes no more events, because each would fork the log the
//! witnesses hold. The database refuses the inserts itself (a trigger the freeze
//! creates), so every path is covered; this module writes and reads the reason, and names
//! the SQLSTATE the trigger raises so the appender can say what happened.

use sqlx::PgPool;

/// The SQLSTATE of an append refused on a frozen ledger.
pub const FROZEN_SQLSTATE: &str = "MC001";

/// Why the ledger is read-only, when it is.
pub async fn frozen(pool: &PgPool) -> Result<Option<String>, sqlx::Error> {
    sqlx::query_scalar("SELECT reason FROM ledger_freeze")
        .fetch_optional(pool)
        .await
}

/// Freezes the ledger for `reason` (a restore that cannot reach the newest head): the
/// reason and the trigger that refuses appends, in one transaction. The trigger exists
/// only on a frozen ledger, so appends elsewhere pay nothing for it (`bench ledger`
/// measured a statement trigger on every append at up to a tenth of the group-commit
/// rate, most of it on one-event transactions).
pub async fn freeze(pool: &PgPool, reason: &str) -> Result<(), sqlx::Error> {
    let mut tx = pool.begin().await?;
    sqlx::query(
        "INSERT INTO ledger_freeze (reason) VALUES ($1) \
         ON CONFLICT (only_row) DO UPDATE SET reason = EXCLUDED.reason",
    )
    .bind(reason)
    .execute(&mut *tx)
    .await?;
    sqlx::query(
        "CREATE OR REPLACE TRIGGER events_frozen BEFORE INSERT ON events \
         FOR EACH STATEMENT EXECUTE FUNCTION events_refused_while_frozen()",
    )
    .execute(&mut *tx)
    .await?;
    tx.commit().await
}

/// Whether `e` is the database refusing an append on a frozen ledger; its message then.
pub fn refusal(e: &sqlx::Error) -> Option<String> {
    match e {
        sqlx::Error::Database(db) if db.code().as_deref() == Some(FROZEN_SQLSTATE) => {
            Some(db.message().to_owned())
        }
        _ => None,
    }
}
