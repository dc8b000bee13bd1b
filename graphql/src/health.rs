//! `GET /health`: 200 when the database answers, the migrations ran and no projector has
//! stopped; 503 naming what is wrong otherwise.

use crate::AppState;
use axum::{Json, extract::State, http::StatusCode};
use serde_json::{Value, json};

pub async fn health(State(state): State<AppState>) -> (StatusCode, Json<Value>) {
    let mut problems = Vec::new();
    match commands::db::migrations_current(&state.services.pool).await {
        Ok(true) => {}
        Ok(false) => problems.push("migrations have not all run".to_owned()),
        Err(e) => {
            tracing::warn!(error = %e, "health check: database did not answer");
            problems.push("the database does not answer".to_owned());
        }
    }
    for (name, seq) in state.services.projections.stopped() {
        problems.push(format!("projector {name} has stopped at event {seq}"));
    }
    if problems.is_empty() {
        // A frozen ledger is healthy for reading, and says why it takes no writes.
        match commands::ledger::frozen(&state.services.pool).await {
            Ok(Some(reason)) => (
                StatusCode::OK,
                Json(json!({"status": "ok", "readOnly": reason})),
            ),
            _ => (StatusCode::OK, Json(json!({"status": "ok"}))),
        }
    } else {
        (
            StatusCode::SERVICE_UNAVAILABLE,
            Json(json!({"status": "unavailable", "problems": problems})),
        )
    }
}
