//! MedChain's pure core: the types and rules every other crate builds on.
//!
//! This crate owns the medical-record rules (`record`: the aggregate and the access
//! rules of DESIGN.md §6; `emergency`: break-glass access), the accounts (`account`), the ledger format of DESIGN.md §3 (the entry, its RFC 8785 canonical
//! bytes, the SHA-256 chain, checkpoints and their signatures, chain verification as a
//! fold over rows) and the value types made at the edge (`Timestamp`, `StreamName`,
//! `EventType`).
//!
//! It has no I/O: no async, no database, no clock, no file system. Time arrives as an
//! argument; facts a rule needs arrive in the command. `cargo tree -p domain` shows no
//! tokio and no sqlx, and ARCHITECTURE.md keeps it that way.
#![forbid(unsafe_code)]

pub mod account;
pub mod aggregate;
pub mod domain_event;
pub mod emergency;
pub mod erasure;
pub mod erasure_basis;
pub mod event_type;
pub mod ledger;
pub mod link;
pub mod notification;
pub mod proxy;
pub mod record;
#[cfg(any(test, feature = "test-support"))]
pub mod samples;
pub mod sealed;
pub mod stream_name;
pub mod text_enum;
pub mod timestamp;

pub use aggregate::Aggregate;
pub use domain_event::{DomainEvent, EventName, UnknownEvent};
pub use erasure_basis::ErasureBasis;
pub use event_type::EventType;
pub use sealed::Sealed;
pub use stream_name::StreamName;
pub use timestamp::Timestamp;
