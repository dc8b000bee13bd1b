//! What operators watch (issue 27): Prometheus' text format at `GET /metrics`, through
//! the `metrics` facade and `metrics-exporter-prometheus`, served on a listener of its
//! own (`MEDCHAIN_METRICS_LISTEN`), never on the public one: nothing of it is reachable
//! from outside unless an operator binds it there.
//!
//! Counted as they happen, anywhere in the process: HTTP requests by method, route and
//! status, and their latency (`graphql::metrics`); events appended by this process; blob
//! store errors by operation (`commands::blobs`); queries answered by a replica or the
//! primary (`graphql::replicas`). Read when scraped, so they are never
//! stale: the ledger's head, each projector's position, lag and whether it stopped, and
//! the mail queue.

use metrics_exporter_prometheus::{Matcher, PrometheusBuilder, PrometheusHandle};
use sqlx::PgPool;
use std::sync::OnceLock;
use tokio::net::TcpListener;

static RECORDER: OnceLock<Option<PrometheusHandle>> = OnceLock::new();

/// The process's recorder, installed at the first call (a process has one).
pub fn recorder() -> Option<PrometheusHandle> {
    RECORDER
        .get_or_init(|| {
            let built = PrometheusBuilder::new()
                .set_buckets_for_metric(
                    Matcher::Full(graphql::metrics::REQUEST_SECONDS.to_owned()),
                    &[
                        0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 10.0,
                    ],
                )
                .and_then(|b| b.install_recorder());
            match built {
                Ok(handle) => {
                    describe();
                    Some(handle)
                }
                Err(e) => {
                    tracing::warn!(error = %e, "metrics are off: the recorder could not be installed");
                    None
                }
            }
        })
        .clone()
}

/// Says what each metric is, and starts the error counters at zero so a dashboard sees
/// them before the first error.
fn describe() {
    use metrics::{describe_counter, describe_gauge, describe_histogram};
    describe_counter!(
        graphql::metrics::REQUESTS,
        "HTTP requests by method, route and status"
    );
    describe_histogram!(
        graphql::metrics::REQUEST_SECONDS,
        metrics::Unit::Seconds,
        "HTTP request latency by method and route"
    );
    describe_counter!(
        "medchain_ledger_appended_events_total",
        "Events this process appended"
    );
    describe_gauge!("medchain_ledger_head_seq", "The ledger's newest seq");
    describe_counter!(
        graphql::replicas::REPLICA_READS,
        "GraphQL queries by where they were answered: a caught-up replica, or the primary and why"
    );
    describe_gauge!(
        "medchain_projector_lag_events",
        "Events a projector is behind the head"
    );
    describe_gauge!(
        "medchain_projector_seq",
        "The last event a projector applied"
    );
    describe_gauge!(
        "medchain_projector_stopped",
        "1 when a projector stopped on an event"
    );
    describe_gauge!("medchain_mail_queue", "Mails waiting to be sent");
    describe_counter!(
        "medchain_blob_store_errors_total",
        "Failed blob store operations, by operation"
    );
    for op in ["put", "get", "read", "write", "finish", "rename"] {
        metrics::counter!("medchain_blob_store_errors_total", "op" => op).increment(0);
    }
}

/// What a scrape reads at the moment it is asked.
#[derive(Clone)]
pub struct Sources {
    pub pool: PgPool,
    pub projections: projections::Projections,
    pub store: commands::event_store::EventStore,
}

async fn scrape(sources: &Sources, handle: &PrometheusHandle) -> String {
    match commands::ledger::ledger_head(&sources.pool).await {
        Ok(head) => {
            metrics::gauge!("medchain_ledger_head_seq").set(head.seq as f64);
            for name in sources.projections.names() {
                if let Some(p) = sources.projections.progress(name) {
                    metrics::gauge!("medchain_projector_seq", "projector" => name)
                        .set(p.seq as f64);
                    metrics::gauge!("medchain_projector_lag_events", "projector" => name)
                        .set((head.seq - p.seq).max(0) as f64);
                    metrics::gauge!("medchain_projector_stopped", "projector" => name)
                        .set(if p.failed_at.is_some() { 1.0 } else { 0.0 });
                }
            }
        }
        Err(e) => tracing::warn!(error = %e, "metrics: the ledger head could not be read"),
    }
    let appended = sources.store.appender_stats().events;
    metrics::counter!("medchain_ledger_appended_events_total").absolute(appended);
    let queued: Result<i64, _> =
        sqlx::query_scalar("SELECT count(*) FROM mail_outbox WHERE status = 'PENDING'")
            .fetch_one(&sources.pool)
            .await;
    match queued {
        Ok(n) => metrics::gauge!("medchain_mail_queue").set(n as f64),
        Err(e) => tracing::warn!(error = %e, "metrics: the mail queue could not be read"),
    }
    handle.render()
}

/// Serves `GET /metrics` on `listener` until `stop` turns true.
pub fn spawn(
    listener: TcpListener,
    handle: PrometheusHandle,
    sources: Sources,
    mut stop: tokio::sync::watch::Receiver<bool>,
) {
    use axum::{Router, http::header, response::IntoResponse, routing::get};
    let app = Router::new().route(
        "/metrics",
        get(move || {
            let (sources, handle) = (sources.clone(), handle.clone());
            async move {
                (
                    [(
                        header::CONTENT_TYPE,
                        "text/plain; version=0.0.4; charset=utf-8",
                    )],
                    scrape(&sources, &handle).await,
                )
                    .into_response()
            }
        }),
    );
    tokio::spawn(async move {
        let served = axum::serve(listener, app)
            .with_graceful_shutdown(async move {
                let _ = stop.wait_for(|s| *s).await;
            })
            .await;
        if let Err(e) = served {
            tracing::error!(error = %e, "the metrics listener stopped");
        }
    });
}
