//! The embedded default database (DESIGN.md §7): without `DATABASE_URL`, MedChain runs a
//! private PostgreSQL cluster in its data directory with the machine's own PostgreSQL
//! programs, reachable only through a Unix socket in that directory. This module finds
//! the programs, creates, starts, shares and stops the cluster, and provides the shared
//! server the integration tests use and the private clusters (and replicas) of the
//! tests that restart or replicate PostgreSQL.
//!
//! All of it blocks: call it from `spawn_blocking`, or before the runtime is busy.

#![forbid(unsafe_code)]

mod account;
mod binaries;
mod cluster;
mod data_dir;
mod error;
mod lock;
mod private_cluster;
mod process;
mod server;
pub mod test_cluster;

pub use binaries::{NoPostgres, PgBinaries};
pub use cluster::{
    Attached, DATABASE, EmbeddedCluster, attach_for_command, attach_for_serve, restore_cluster,
};
pub use data_dir::DataDir;
pub use error::ClusterError;
pub use private_cluster::PrivateCluster;
