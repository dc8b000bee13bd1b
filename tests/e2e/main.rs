//! The end-to-end tests, one binary (as zero-to-production's `tests/api/main.rs`): the real
//! server on port 0, real PostgreSQL (one database per test), reached over HTTP, the CLI
//! and the browser. One binary links the whole server once instead of once per file.

mod accounts;
mod accounts_admin;
mod accounts_erasure;
mod accounts_photo;
mod accounts_processes;
mod accounts_projections;
mod accounts_reset;
mod accounts_sessions;
mod admin_ledger;
mod care;
mod common;
mod compliance;
mod embedded_cluster;
mod graphql_transport;
mod hardening_budgets;
mod hardening_doors;
mod hardening_limits;
mod kernel_races;
mod kernel_snapshots;
mod key_epochs;
mod key_epochs_hsm;
mod key_epochs_s3;
mod ledger_integrity;
mod ledger_store;
mod legal_holds;
mod links;
mod notifications;
mod notifications_live;
mod notifications_mail;
mod projections_writers;
mod projector_batches;
mod projector_faults;
mod projector_filters;
mod proxies;
mod records;
mod records_integrity;
mod records_large;
mod records_s3;
mod records_sharing;
mod serve_binary;
mod strong_auth;
mod subscription_sessions;
mod transparency;
mod web_app;
