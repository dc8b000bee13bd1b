//! The transparency log over HTTP (API.graphql): `GET /api/log/checkpoint`, `GET
//! /api/log/inclusion?seq=N[&size=M]`, `GET /api/log/consistency?from=A[&to=B]`. No
//! sign-in: they reveal only hashes and signatures. The answers are those of the
//! GraphQL fields, through the same functions.

use crate::{
    AppState, api::transparency, error::Code, http::rest::error, types::transparency::TreeHead,
};
use axum::{
    Json,
    extract::{Query, State, rejection::QueryRejection},
    http::StatusCode,
    response::{IntoResponse, Response},
};
use serde::Deserialize;
use serde_json::{Value, json};

fn bad_query(message: &str) -> Response {
    error(StatusCode::BAD_REQUEST, Code::BadUserInput, message)
}

fn refused(e: async_graphql::Error) -> Response {
    let code = Code::of(&e);
    error(code.status(), code, &e.message)
}

/// A signed tree head as DESIGN.md §9 writes it, with its cosignatures.
pub(crate) fn head_json(head: &TreeHead) -> Value {
    let mut doc: Value =
        serde_json::from_str(&head.signed.to_json()).expect("a checkpoint's JSON is JSON");
    doc["cosignatures"] = head
        .cosignatures
        .iter()
        .map(|c| json!({"witness": c.witness, "name": c.name, "at": c.at.0.to_string(), "sig": c.sig}))
        .collect();
    doc
}

pub async fn checkpoint(State(state): State<AppState>) -> Response {
    match transparency::newest_head(&state.services).await {
        Ok(Some(head)) => Json(head_json(&head)).into_response(),
        Ok(None) => error(
            StatusCode::NOT_FOUND,
            Code::NotFound,
            "no tree head has been signed yet",
        ),
        Err(e) => refused(e),
    }
}

/// `POST /api/log/cosignature`: a witness's cosignature of a head (DESIGN.md §9).
pub async fn cosignature(State(state): State<AppState>, body: axum::body::Bytes) -> Response {
    let parsed = serde_json::from_slice::<Value>(&body)
        .map_err(|e| e.to_string())
        .and_then(|doc| {
            domain::ledger::cosignature::Cosignature::parse(&doc).map_err(|e| e.to_string())
        });
    let cosig = match parsed {
        Ok(cosig) => cosig,
        Err(e) => return bad_query(&format!("the body is not a cosignature: {e}")),
    };
    use transparency::CosignatureRefused as R;
    match transparency::accept_cosignature(&state.services, cosig).await {
        Ok(Ok(())) => Json(json!({"accepted": true})).into_response(),
        Ok(Err(R::UnknownWitness)) => error(
            StatusCode::FORBIDDEN,
            Code::Forbidden,
            "this log does not accept cosignatures from that witness key",
        ),
        Ok(Err(R::UnsignedHead)) => bad_query("this log never signed a head of that size and root"),
        Ok(Err(R::BadSignature)) => {
            bad_query("the witness's signature does not hold over that head of this log")
        }
        Err(e) => refused(e),
    }
}

#[derive(Deserialize)]
pub struct InclusionQuery {
    seq: i64,
    size: Option<i64>,
}

pub async fn inclusion(
    State(state): State<AppState>,
    q: Result<Query<InclusionQuery>, QueryRejection>,
) -> Response {
    let Ok(Query(q)) = q else {
        return bad_query("ask /api/log/inclusion?seq=N[&size=M] with whole numbers");
    };
    match transparency::inclusion(&state.services, q.seq, q.size).await {
        Ok(p) => Json(json!({
            "seq": p.seq.0, "leafHash": p.leaf_hash, "treeSize": p.tree_size.0, "path": p.path,
        }))
        .into_response(),
        Err(e) => refused(e),
    }
}

#[derive(Deserialize)]
pub struct ConsistencyQuery {
    from: i64,
    to: Option<i64>,
}

pub async fn consistency(
    State(state): State<AppState>,
    q: Result<Query<ConsistencyQuery>, QueryRejection>,
) -> Response {
    let Ok(Query(q)) = q else {
        return bad_query("ask /api/log/consistency?from=A[&to=B] with whole numbers");
    };
    match transparency::consistency(&state.services, q.from, q.to).await {
        Ok(p) => Json(json!({
            "fromSize": p.from_size.0, "toSize": p.to_size.0, "path": p.path,
        }))
        .into_response(),
        Err(e) => refused(e),
    }
}
