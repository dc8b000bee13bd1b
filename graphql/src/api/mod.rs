//! The GraphQL API by area, each with its part of `Query` and `Mutation` (merged in
//! `schema`): accounts, records, notifications, administration (people) and the ledger
//! (administrators), compliance, the transparency log, second factors, key epochs and erasure certificates, legal holds. Resolvers stay thin: they parse, call one command or
//! view, and map (`error`).

pub mod accounts;
pub mod administration;
pub mod care;
pub mod compliance;
pub mod factors;
pub mod keys;
pub mod ledger;
pub mod legal_holds;
pub mod links;
pub mod notifications;
pub mod proxies;
pub mod read_tokens;
pub mod records;
pub mod transparency;
