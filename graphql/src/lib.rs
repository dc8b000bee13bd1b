//! The HTTP surface of MedChain: the axum router, the GraphQL schema of `API.graphql`, and
//! (as the API grows) the file routes. Only this crate knows HTTP and GraphQL.
//!
//! - `transport`: POST/GET `/graphql`; `socket`: `/graphql/ws` (subscriptions only, with
//!   its budgets); `auth`: credentials to a caller; `session_cookie`: the cookie's shape;
//!   `csrf`: refusing cookie-authenticated requests from other sites; `client_address`:
//!   the client behind trusted proxies.
//! - `schema` (`api`, `subscription`, `types`, `scalars`): the API; `api` holds `Query` and
//!   `Mutation` by area (accounts, records, notifications, administration, ledger,
//!   compliance); resolvers stay thin and call `commands` and `projections`.
//! - `http`: the routes beside `/graphql`: photos, uploading and reading records, and
//!   what they share (`rest`).
//! - `export`: `GET /api/me/export`, a patient's data with its proofs, as a streamed zip.
//! - `fhir`: FHIR R4, read-only, at `/fhir/R4` (sessions or an app's read token).
//! - `record_access`: the facts the access rules take about a caller and a patient's
//!   records, gathered once for GraphQL and FHIR alike.
//! - `web`: the web app, embedded, at `/` (strict CSP).
//! - `loaders`: per-object lookups batched per request (users by id).
//! - `error`: each layer's error to one `extensions.code`, once. `limits`: what one request
//!   may ask. `health`: `/health`.
#![forbid(unsafe_code)]

mod api;
mod auth;
pub mod client_address;
pub mod context;
mod csrf;
mod error;
mod export;
mod fhir;
mod health;
mod http;
pub mod limits;
mod loaders;
pub mod metrics;
pub mod notification_hub;
mod record_access;
pub mod replicas;
pub mod scalars;
mod schema;
mod session_cookie;
mod socket;
mod subscription;
mod transport;
mod types;
mod web;

pub use client_address::TrustedProxies;
pub use context::Services;
pub use schema::{MedSchema, build_schema, sdl};

use axum::{Router, extract::DefaultBodyLimit, routing::get};

/// HTTP settings from the configuration.
#[derive(Clone, Debug)]
pub struct HttpConfig {
    /// `scheme://host[:port]` of the public URL: the only `Origin` a browser may open a
    /// subscription from.
    pub public_origin: String,
    /// Other origins that are this server's own: without a configured public URL, both
    /// `http://localhost:<port>` (WebAuthn needs a name, not an address) and the listen
    /// address.
    pub other_origins: Vec<String>,
    /// The proxies whose `X-Forwarded-For` entries are believed.
    pub trusted_proxies: TrustedProxies,
    /// Introspection for anonymous callers too (`MEDCHAIN_DEV_TOOLS=true`).
    pub dev_tools: bool,
}

impl HttpConfig {
    /// Every origin that is this server's own pages'.
    pub fn own_origins(&self) -> Vec<String> {
        std::iter::once(self.public_origin.clone())
            .chain(self.other_origins.iter().cloned())
            .collect()
    }
}

/// What every handler can reach.
#[derive(Clone)]
pub struct AppState {
    pub services: Services,
    pub schema: MedSchema,
    pub http: HttpConfig,
    /// Open subscription sockets per session, in this process.
    pub sockets: socket::OpenSockets,
}

impl AppState {
    pub fn new(services: Services, http: HttpConfig) -> Self {
        let schema = build_schema(services.clone());
        Self {
            services,
            schema,
            http,
            sockets: socket::OpenSockets::default(),
        }
    }
}

pub fn router(state: AppState) -> Router {
    Router::new()
        .route("/health", get(health::health))
        .route(
            "/graphql",
            // The handler enforces the limit itself, to answer it in JSON.
            get(web::graphiql)
                .post(transport::post)
                .layer(DefaultBodyLimit::disable()),
        )
        .route("/graphql/ws", get(socket::websocket))
        .route("/graphql/assets/{file}", get(web::graphiql_asset))
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
        .route(
            "/api/links/{id}/open",
            axum::routing::post(http::links::open).layer(DefaultBodyLimit::max(4 * 1024)),
        )
        .route(
            "/api/links/{id}/records/{record}/content",
            get(http::links::content),
        )
        .route("/api/log/checkpoint", get(http::log::checkpoint))
        .route("/api/log/inclusion", get(http::log::inclusion))
        .route("/api/log/consistency", get(http::log::consistency))
        .route(
            "/api/log/cosignature",
            axum::routing::post(http::log::cosignature).layer(DefaultBodyLimit::max(16 * 1024)),
        )
        .route("/api/me/export", get(export::export))
        .merge(fhir::routes())
        .route("/assets/{*path}", get(web::asset))
        .fallback(get(web::page))
        .route_layer(axum::middleware::from_fn(metrics::track))
        .with_state(state)
}
