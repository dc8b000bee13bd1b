//! The HTTP surface of MedChain: the axum router, the GraphQL schema of `API.graphql`, and
//! (as the API grows) the file routes. Only this crate knows HTTP and GraphQL.
//!
//! - `transport`: POST/GET `/graphql` and `/graphql/ws`; `auth`: credentials to a caller;
//!   `session_cookie`: the cookie's shape.
//! - `schema` (`query`, `mutation`, `subscription`, `types`, `scalars`): the API; resolvers
//!   stay thin and call `commands` and `projections`.
//! - `files`: the photo routes; `record_files`: uploading and reading records.
//! - `admin_api`: the dashboard, the ledger and checkpoints; `compliance_api`: disclosures
//!   and who could read a record at a moment (by replay).
//! - `web`: the web app, embedded, at `/` (strict CSP).
//! - `error`: each layer's error to one `extensions.code`, once. `limits`: what one request
//!   may ask. `health`: `/health`.
#![forbid(unsafe_code)]

mod admin_api;
mod auth;
mod compliance_api;
pub mod context;
mod error;
mod files;
mod health;
pub mod limits;
mod mutation;
mod notification_api;
mod query;
mod record_files;
mod record_mutation;
mod record_query;
mod rest;
pub mod scalars;
mod schema;
mod session_cookie;
mod subscription;
mod transport;
mod types;
mod web;

pub use context::Services;
pub use schema::{MedSchema, build_schema, sdl};

use axum::{Router, extract::DefaultBodyLimit, routing::get};

/// HTTP settings from the configuration.
#[derive(Clone, Debug)]
pub struct HttpConfig {
    /// `scheme://host[:port]` of the public URL: the only `Origin` a browser may open a
    /// subscription from.
    pub public_origin: String,
    /// Honour `X-Forwarded-For` (only behind a proxy that sets it).
    pub trust_proxy: bool,
}

/// What every handler can reach.
#[derive(Clone)]
pub struct AppState {
    pub services: Services,
    pub schema: MedSchema,
    pub http: HttpConfig,
}

impl AppState {
    pub fn new(services: Services, http: HttpConfig) -> Self {
        let schema = build_schema(services.clone());
        Self {
            services,
            schema,
            http,
        }
    }
}

pub fn router(state: AppState) -> Router {
    Router::new()
        .route("/health", get(health::health))
        .route(
            "/graphql",
            // The handler enforces the limit itself, to answer it in JSON.
            get(transport::graphiql)
                .post(transport::post)
                .layer(DefaultBodyLimit::disable()),
        )
        .route("/graphql/ws", get(transport::websocket))
        .route(
            "/api/me/photo",
            axum::routing::put(files::put_photo).layer(DefaultBodyLimit::disable()),
        )
        .route("/api/users/{id}/photo", get(files::get_photo))
        .route(
            "/api/records",
            // The upload streams; its size limit is enforced while it does.
            axum::routing::post(record_files::upload).layer(DefaultBodyLimit::disable()),
        )
        .route("/api/records/{id}/content", get(record_files::content))
        .route("/assets/{*path}", get(web::asset))
        .fallback(get(web::page))
        .with_state(state)
}
