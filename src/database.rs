//! Which PostgreSQL to use: `DATABASE_URL` when set, otherwise the embedded cluster in
//! the data directory (DESIGN.md §7), owned by this process or borrowed from a running
//! `serve`.

use crate::{cli::Common, embedded};
use sqlx::PgPool;

#[derive(Debug, thiserror::Error)]
pub enum DatabaseError {
    #[error(transparent)]
    NoPostgres(#[from] embedded::NoPostgres),
    #[error(transparent)]
    Cluster(#[from] embedded::ClusterError),
    #[error(transparent)]
    Db(#[from] commands::db::DbError),
}

impl DatabaseError {
    /// 2 when PostgreSQL is missing (nothing to run on), 1 otherwise.
    pub fn exit_code(&self) -> i32 {
        if matches!(self, Self::NoPostgres(_)) {
            2
        } else {
            1
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Purpose {
    /// Owns the data directory for as long as it runs; a second one is refused.
    Serve,
    /// Uses a running `serve`'s cluster, or starts one for its own duration.
    Command,
}

pub struct Database {
    pub pool: PgPool,
    pub url: String,
    cluster: Option<embedded::EmbeddedCluster>,
}

impl Database {
    /// Connects (starting the embedded cluster if needed) and runs the migrations.
    pub async fn open(
        common: &Common,
        purpose: Purpose,
        max_connections: u32,
    ) -> Result<Self, DatabaseError> {
        let (url, cluster) = match &common.database_url {
            Some(url) => (url.clone(), None),
            None => {
                let dir = common.data_dir.clone();
                let attached = tokio::task::spawn_blocking(move || -> Result<_, DatabaseError> {
                    let bins = embedded::PgBinaries::find()?;
                    Ok(match purpose {
                        Purpose::Serve => {
                            embedded::Attached::Owned(embedded::attach_for_serve(&dir, &bins)?)
                        }
                        Purpose::Command => embedded::attach_for_command(&dir, &bins)?,
                    })
                })
                .await
                .expect("attaching the embedded cluster does not panic")?;
                let url = attached.url();
                match attached {
                    embedded::Attached::Owned(cluster) => (url, Some(cluster)),
                    embedded::Attached::Borrowed { .. } => {
                        tracing::info!(
                            "using the cluster of the medchain serve that holds the data directory"
                        );
                        (url, None)
                    }
                }
            }
        };
        let pool = match commands::db::connect_and_migrate(&url, max_connections).await {
            Ok(pool) => pool,
            Err(e) => {
                if let Some(cluster) = cluster {
                    stop_cluster(cluster).await;
                }
                return Err(e.into());
            }
        };
        Ok(Self { pool, url, cluster })
    }

    /// Closes the pool and stops the embedded cluster if this process started it.
    pub async fn close(self) {
        self.pool.close().await;
        if let Some(cluster) = self.cluster {
            stop_cluster(cluster).await;
        }
    }
}

async fn stop_cluster(cluster: embedded::EmbeddedCluster) {
    match tokio::task::spawn_blocking(move || cluster.stop()).await {
        Ok(Ok(())) => tracing::info!("embedded PostgreSQL stopped"),
        Ok(Err(e)) => tracing::error!(error = %e, "stopping the embedded PostgreSQL failed"),
        Err(e) => tracing::error!(error = %e, "stopping the embedded PostgreSQL panicked"),
    }
}
/// The pools of the read replicas at `urls` (`MEDCHAIN_REPLICA_URLS`), connected lazily:
/// a replica that is down when the server starts is passed over until it answers.
pub fn replicas(
    urls: &[String],
    wait: std::time::Duration,
) -> Result<Option<std::sync::Arc<graphql::replicas::Replicas>>, DatabaseError> {
    let pools = urls
        .iter()
        .filter(|url| !url.trim().is_empty())
        .map(|url| commands::db::connect_lazy(url.trim(), crate::server::pool_size()))
        .collect::<Result<Vec<_>, _>>()?;
    if !pools.is_empty() {
        crate::logs::say(&format!("queries read from {} replica(s)", pools.len()));
    }
    Ok(graphql::replicas::Replicas::new(pools, wait).map(std::sync::Arc::new))
}

/// `url` with its database replaced by `database` (a plain identifier): for a scratch
/// database beside the configured one (benches, tests).
pub fn with_database(url: &str, database: &str) -> String {
    let (base, query) = url.split_once('?').unwrap_or((url, ""));
    let authority_start = base.find("://").map_or(0, |i| i + 3);
    let authority_end = base[authority_start..]
        .find('/')
        .map_or(base.len(), |i| authority_start + i);
    let query: Vec<&str> = query
        .split('&')
        .filter(|pair| !pair.is_empty() && !pair.starts_with("dbname="))
        .collect();
    let mut out = format!("{}/{database}", &base[..authority_end]);
    if !query.is_empty() {
        out.push('?');
        out.push_str(&query.join("&"));
    }
    out
}
