//! The `medchain` binary package: command line, configuration and wiring.
//!
//! - `admin_cli`, `projections_cli`: `medchain admin create`, `medchain projections …`.
//! - `cli`: the clap definitions, one subcommand per job.
//! - `config`: settings from flags and the environment, resolved once.
//! - `database`: `DATABASE_URL`, or the embedded cluster in the data directory.
//! - `embedded`: the private PostgreSQL cluster of the embedded default.
//! - `server`: startup as a library call (bound address in, shutdown signal in).
//! - `ledger_cli`: `medchain ledger verify|export|checkpoint|pubkey|prove|consistency|
//!   check-proof`.
//! - `witness`: `medchain witness`, an independent witness that cosigns a log's heads.
//! - `compliance_cli`: `medchain replay …` and `medchain report disclosures|verify`.
//! - `checkpointer`: the automatic checkpoint (one writer across processes).
//! - `share_expiry`, `mail_outbox`, `staging_sweep`: the other background tasks (expiring
//!   shares, mailing notifications, removing uploads a stopped process left staged).
//! - `backup`: `medchain backup` and `medchain restore`.
//! - `bench`: the benchmark commands.
//! - `dev`: hidden helpers for the test suite.
#![forbid(unsafe_code)]

pub mod admin_cli;
pub mod backup;
pub mod bench;
pub mod checkpointer;
pub mod cli;
pub mod compliance_cli;
pub mod config;
pub mod database;
pub mod dev;
pub mod embedded;
pub mod export_cli;
pub mod key_rotation;
pub mod keys_cli;
pub mod ledger_cli;
pub mod logs;
pub mod mail_outbox;
pub mod metrics;
pub mod projections_cli;
pub mod server;
pub mod share_expiry;
pub mod staging_sweep;
pub mod witness;
