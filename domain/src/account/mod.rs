//! People and their accounts: the value types made at the edge and the `user` aggregate.

pub mod email;

pub use email::{Email, InvalidEmail};
