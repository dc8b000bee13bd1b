//! Connecting to PostgreSQL and the migrations embedded in the binary.

use sqlx::{
    PgPool,
    postgres::{PgConnectOptions, PgPoolOptions},
};
use std::{str::FromStr, time::Duration};

pub static MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("../migrations");

#[derive(Debug, thiserror::Error)]
pub enum DbError {
    #[error("DATABASE_URL is not a valid PostgreSQL URL: {0}")]
    BadUrl(#[source] sqlx::Error),
    #[error("cannot connect to PostgreSQL: {0}")]
    Connect(#[source] sqlx::Error),
    #[error("migrations failed: {0}")]
    Migrate(#[from] sqlx::migrate::MigrateError),
}

/// Connects a pool of `max_connections` and runs the embedded migrations.
pub async fn connect_and_migrate(url: &str, max_connections: u32) -> Result<PgPool, DbError> {
    let pool = connect(url, max_connections).await?;
    MIGRATOR.run(&pool).await?;
    Ok(pool)
}

pub async fn connect(url: &str, max_connections: u32) -> Result<PgPool, DbError> {
    let options = PgConnectOptions::from_str(url)
        .map_err(DbError::BadUrl)?
        .application_name("medchain");
    pool_options(max_connections)
        .connect_with(options)
        .await
        .map_err(DbError::Connect)
}

/// A pool that connects on first use (a read replica that may be down at start).
pub fn connect_lazy(url: &str, max_connections: u32) -> Result<PgPool, DbError> {
    let options = PgConnectOptions::from_str(url)
        .map_err(DbError::BadUrl)?
        .application_name("medchain-reader");
    Ok(pool_options(max_connections)
        .acquire_timeout(Duration::from_secs(2))
        .connect_lazy_with(options))
}

/// How every pool of the server is set up (the benches use it too, to measure the same).
pub fn pool_options(max_connections: u32) -> PgPoolOptions {
    PgPoolOptions::new()
        .max_connections(max_connections)
        // By default every checkout first pings the connection: a second round trip for
        // each query, which doubled the cost of an authenticated request. A connection that
        // died (PostgreSQL restarted) fails its next query instead, and is dropped then;
        // the idle timeout retires quiet connections before a firewall or server forgets them.
        .test_before_acquire(false)
        .idle_timeout(Duration::from_secs(5 * 60))
        .acquire_timeout(Duration::from_secs(30))
}

/// True when every embedded migration is applied and none failed: part of `/health`.
pub async fn migrations_current(pool: &PgPool) -> Result<bool, sqlx::Error> {
    let latest = MIGRATOR.iter().map(|m| m.version).max().unwrap_or(0);
    let applied: Option<i64> =
        sqlx::query_scalar("SELECT max(version) FROM _sqlx_migrations WHERE success")
            .fetch_one(pool)
            .await?;
    Ok(applied.unwrap_or(0) >= latest)
}
