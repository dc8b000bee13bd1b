//! The HTTP surface of MedChain: the axum router and, as the API grows, the GraphQL schema
//! and the file routes of `API.graphql`. Only this crate knows HTTP and GraphQL.
//!
//! Today it serves `/health`.
#![forbid(unsafe_code)]

mod health;

use axum::{Router, routing::get};
use sqlx::PgPool;

/// What every handler can reach.
#[derive(Clone)]
pub struct AppState {
    pub pool: PgPool,
}

pub fn router(state: AppState) -> Router {
    Router::new()
        .route("/health", get(health::health))
        .with_state(state)
}
