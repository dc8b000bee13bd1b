//! The schema, built by a library function so the server, the tests and the SDL printer
//! share one definition, with its limits.

use crate::{
    context::Services,
    limits::{AliasLimit, MAX_ALIASES, MAX_COMPLEXITY, MAX_DEPTH},
    mutation::Mutation,
    query::Query,
    subscription::Subscription,
};
use async_graphql::Schema;

pub type MedSchema = Schema<Query, Mutation, Subscription>;

pub fn build_schema(services: Services) -> MedSchema {
    Schema::build(Query, Mutation, Subscription)
        .data(services)
        .limit_depth(MAX_DEPTH)
        .limit_complexity(MAX_COMPLEXITY)
        .extension(AliasLimit(MAX_ALIASES))
        .finish()
}

/// The schema as SDL, for `contract-check` and for readers.
pub fn sdl() -> String {
    Schema::build(Query, Mutation, Subscription).finish().sdl()
}
