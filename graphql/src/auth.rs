//! Who is calling: a `Bearer` token, else the session cookie, else nobody. A credential
//! that is present but not valid (malformed, unknown, expired, revoked) is refused for
//! every operation rather than treated as anonymous (API.graphql).

use crate::{
    context::{Auth, Services},
    session_cookie,
};
use axum::http::{HeaderMap, header};
use commands::{CommandError, accounts::SessionToken};
use projections::users;
use std::sync::Arc;

#[derive(Debug, thiserror::Error)]
pub enum AuthError {
    #[error("{0}")]
    Refused(&'static str),
    #[error(transparent)]
    Command(#[from] CommandError),
    #[error(transparent)]
    Read(Box<users::ReadError>),
}

/// A token and how it came: a browser sends the cookie by itself, so only a
/// cookie-authenticated request is checked for coming from another site (`csrf`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Credential<'a> {
    pub token: &'a str,
    pub by_cookie: bool,
}

/// The token a request carries, if any: the Authorization header wins over the cookie
/// (read under its https name when `secure_cookie`).
pub fn credential(
    headers: &HeaderMap,
    secure_cookie: bool,
) -> Result<Option<Credential<'_>>, AuthError> {
    if headers.contains_key(header::AUTHORIZATION) {
        return Ok(token_from_header(headers)?.map(|token| Credential {
            token,
            by_cookie: false,
        }));
    }
    Ok(headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .find_map(|v| session_cookie::token_in(v, secure_cookie))
        .map(|token| Credential {
            token,
            by_cookie: true,
        }))
}

fn token_from_header(headers: &HeaderMap) -> Result<Option<&str>, AuthError> {
    if let Some(value) = headers.get(header::AUTHORIZATION) {
        let value = value
            .to_str()
            .map_err(|_| AuthError::Refused("the Authorization header is not a Bearer token"))?;
        let token = value
            .strip_prefix("Bearer ")
            .map(str::trim)
            .filter(|t| !t.is_empty())
            .ok_or(AuthError::Refused(
                "the Authorization header is not a Bearer token",
            ))?;
        return Ok(Some(token));
    }
    Ok(None)
}

/// The caller of a token, with their own view when they have one (one query: the
/// session joined with the users view; the session's rule is `Accounts::admit`).
pub async fn authenticate(services: &Services, token: Option<&str>) -> Result<Auth, AuthError> {
    let Some(raw) = token else {
        return Ok(Auth::Anonymous);
    };
    let token = SessionToken::parse(raw)
        .map_err(|_| AuthError::Refused("the session token is not valid; sign in again"))?;
    let expired = AuthError::Refused("the session has expired or was ended; sign in again");
    let found = services
        .sessions
        .find(&token.hash())
        .await
        .map_err(|e| AuthError::Read(Box::new(e)))?;
    let Some((record, view)) = found else {
        return Err(expired);
    };
    let Some(caller) = services.accounts.admit(&record).await? else {
        return Err(expired);
    };
    let has_factor = view.as_ref().is_some_and(|v| v.has_second_factor);
    let view = view.map(Arc::new);
    Ok(if services.mfa_policy.must_enrol(caller.role, has_factor) {
        Auth::Enrolling(caller, view)
    } else {
        Auth::User(caller, view)
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::HeaderValue;

    #[test]
    fn the_header_wins_and_must_be_bearer() {
        let mut h = HeaderMap::new();
        h.insert(
            header::COOKIE,
            HeaderValue::from_static("a=b; medchain_session=fromcookie"),
        );
        fn token(h: &HeaderMap) -> Option<(&str, bool)> {
            credential(h, false)
                .unwrap()
                .map(|c| (c.token, c.by_cookie))
        }
        assert_eq!(token(&h), Some(("fromcookie", true)));
        h.insert(
            header::AUTHORIZATION,
            HeaderValue::from_static("Bearer fromheader"),
        );
        assert_eq!(token(&h), Some(("fromheader", false)));
        h.insert(header::AUTHORIZATION, HeaderValue::from_static("Basic abc"));
        assert!(credential(&h, false).is_err());
        assert_eq!(token(&HeaderMap::new()), None);
    }
}
