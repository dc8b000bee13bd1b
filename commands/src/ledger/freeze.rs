//! A frozen ledger (migration 0026): one restored short of the newest head that was
//! signed or witnessed takes no more events, because each would fork the log the
//! witnesses hold. The database refuses the inserts itself (a trigger), so every path is
//! covered; this module writes and reads the reason, and names the SQLSTATE the trigger
//! raises so the appender can say what happened.

use sqlx::PgPool;

/// The SQLSTATE of an append refused on a frozen ledger.
pub const FROZEN_SQLSTATE: &str = "MC001";

/// Why the ledger is read-only, when it is.
pub async fn frozen(pool: &PgPool) -> Result<Option<String>, sqlx::Error> {
    sqlx::query_scalar("SELECT reason FROM ledger_freeze")
        .fetch_optional(pool)
        .await
}

/// Freezes the ledger for `reason` (a restore that cannot reach the newest head).
pub async fn freeze(pool: &PgPool, reason: &str) -> Result<(), sqlx::Error> {
    sqlx::query(
        "INSERT INTO ledger_freeze (reason) VALUES ($1) \
         ON CONFLICT (only_row) DO UPDATE SET reason = EXCLUDED.reason",
    )
    .bind(reason)
    .execute(pool)
    .await?;
    Ok(())
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
