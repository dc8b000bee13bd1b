//! The HTTP surface of MedChain: the axum router, the GraphQL schema of `API.graphql`, and
//! (as the API grows) the file routes. Only this crate knows HTTP and GraphQL.
//!
//! - `transport`: POST/GET `/graphql` and `/graphql/ws`; `auth`: credentials to a caller;
//!   `session_cookie`: the cookie's shape.
//! - `schema` (`api`, `subscription`, `types`, `scalars`): the API; `api` holds `Query` and
//!   `Mutation` by area (accounts, records, notifications, administration, ledger,
//!   compliance); resolvers stay thin and call `commands` and `projections`.
//! - `http`: the routes beside `/graphql`: photos, uploading and reading records, and
//!   what they share (`rest`).
//! - `web`: the web app, embedded, at `/` (strict CSP).
//! - `error`: each layer's error to one `extensions.code`, once. `limits`: what one request
//!   may ask. `health`: `/health`.
#![forbid(unsafe_code)]

mod api;
mod auth;
pub mod context;
mod error;
mod health;
mod http;
pub mod limits;
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
            axum::routing::put(http::photos::put_photo).layer(DefaultBodyLimit::disable()),
        )
        .route("/api/users/{id}/photo", get(http::photos::get_photo))
        .route(
            "/api/records",
            // The upload streams; its size limit is enforced while it does.
            axum::routing::post(http::records::upload).layer(DefaultBodyLimit::disable()),
        )
        .route("/api/records/{id}/content", get(http::records::content))
        .route("/assets/{*path}", get(web::asset))
        .fallback(get(web::page))
        .with_state(state)
}
