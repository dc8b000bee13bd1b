//! Who reads through FHIR: an app with a read token (`Authorization: Bearer mcr_…`,
//! admitted by `Accounts::admit_read_token`), or a person with their session, exactly as
//! the other routes admit it. Only these routes ask for read tokens, and they only read:
//! that is what keeps a token from ever sharing, erasing or signing in.

use super::outcome::Outcome;
use crate::{AppState, csrf::Intent, error::Code, http::rest::signed_in};
use axum::http::{HeaderMap, header};
use commands::{
    Caller,
    accounts::{READ_TOKEN_PREFIX, ReadTokenSecret},
};

pub async fn fhir_caller(
    state: &AppState,
    headers: &HeaderMap,
    intent: Intent,
) -> Result<Caller, Outcome> {
    let bearer = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .map(str::trim);
    if let Some(raw) = bearer.filter(|t| t.starts_with(READ_TOKEN_PREFIX)) {
        let refused = || {
            Outcome::new(
                Code::Unauthenticated,
                "the read token is not valid, has expired or was revoked",
            )
        };
        let secret = ReadTokenSecret::parse(raw).ok_or_else(refused)?;
        return state
            .services
            .accounts
            .admit_read_token(&secret)
            .await?
            .ok_or_else(refused);
    }
    signed_in(state, headers, intent)
        .await
        .map_err(|(code, message)| Outcome::new(code, message))
}
