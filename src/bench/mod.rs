//! Benchmark commands: each prints figures and the ratios its issue targets, measured in
//! one run on this machine (never asserted in tests: shared machines are noisy).

pub mod api;
pub mod keys;
pub mod ledger;
mod measure;
pub mod notifications;
mod people;
pub mod records;
pub mod replay;
pub mod scale;
mod small_files;
