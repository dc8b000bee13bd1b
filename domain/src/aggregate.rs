//! What the command kernel needs of an aggregate: an empty state for an id, its stream's
//! name, and how one event changes it. The decisions stay free functions beside each
//! aggregate (`decide(&state, command)`); this trait only lets one executor load any
//! aggregate, fold it from a snapshot, and append what a decision produced.

use crate::{DomainEvent, StreamName};
use serde::{Serialize, de::DeserializeOwned};

pub trait Aggregate: Clone + Send + Sync + Serialize + DeserializeOwned + 'static {
    type Id: Copy + std::fmt::Display + Send + Sync;
    type Event: DomainEvent;

    /// The state of a stream with no events yet.
    fn new(id: Self::Id) -> Self;

    fn stream(id: Self::Id) -> StreamName;

    fn apply(&mut self, event: &Self::Event);

    /// How much of a cache this state takes, in units of a small state: lets a state
    /// that grew (a user with many open sessions) count for more.
    fn weight(&self) -> usize {
        1
    }
}
