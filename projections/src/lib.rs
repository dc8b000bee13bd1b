//! The read side of MedChain: projectors that turn ledger events into read models, their
//! runner (checkpoints, catch-up, LISTEN/NOTIFY), rebuild and point-in-time replay.
//!
//! Nothing is projected yet: the ledger issue builds the write side first. The crate
//! exists so the dependency direction (`domain` ← `commands` ← `projections` ←
//! `graphql` ← binary) holds from the start.
#![forbid(unsafe_code)]

pub use commands;
