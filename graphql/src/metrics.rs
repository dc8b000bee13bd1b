//! Every request counted and timed, by method, route (the route's pattern, never the
//! path itself: ids would make a series per record) and status, for `/metrics`
//! (`medchain::metrics`). Without a recorder installed, the macros do nothing.

use axum::{extract::MatchedPath, extract::Request, middleware::Next, response::Response};

pub const REQUESTS: &str = "medchain_http_requests_total";
pub const REQUEST_SECONDS: &str = "medchain_http_request_duration_seconds";

pub async fn track(request: Request, next: Next) -> Response {
    let started = std::time::Instant::now();
    let method = request.method().as_str().to_owned();
    let route = request
        .extensions()
        .get::<MatchedPath>()
        .map_or_else(|| "other".to_owned(), |p| p.as_str().to_owned());
    let response = next.run(request).await;
    let status = response.status().as_u16().to_string();
    metrics::counter!(REQUESTS, "method" => method.clone(), "route" => route.clone(), "status" => status)
        .increment(1);
    metrics::histogram!(REQUEST_SECONDS, "method" => method, "route" => route)
        .record(started.elapsed().as_secs_f64());
    response
}
