//! `GET /health`: 200 when the database answers and the migrations ran; 503 naming what
//! is wrong otherwise.

use crate::AppState;
use axum::{Json, extract::State, http::StatusCode};
use serde_json::{Value, json};

pub async fn health(State(state): State<AppState>) -> (StatusCode, Json<Value>) {
    let problem = match commands::db::migrations_current(&state.pool).await {
        Ok(true) => None,
        Ok(false) => Some("migrations have not all run".to_owned()),
        Err(e) => {
            tracing::warn!(error = %e, "health check: database did not answer");
            Some("the database does not answer".to_owned())
        }
    };
    match problem {
        None => (StatusCode::OK, Json(json!({"status": "ok"}))),
        Some(problem) => (
            StatusCode::SERVICE_UNAVAILABLE,
            Json(json!({"status": "unavailable", "problems": [problem]})),
        ),
    }
}
