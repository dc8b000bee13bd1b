//! The API's errors: every one carries `extensions.code` (API.graphql's header), and the
//! mapping from each layer's error type happens here, once. Internal causes are logged
//! here, where they are handled, and clients get only "internal error".

use async_graphql::{Error, ErrorExtensions as _};
use commands::CommandError;
use projections::{WaitError, users::ReadError};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Code {
    Unauthenticated,
    Forbidden,
    BadUserInput,
    NotFound,
    Conflict,
    RateLimited,
    Internal,
    /// The database cannot be reached (restarting, failing over, out of connections).
    /// API.graphql has no code for it, so clients read INTERNAL with a message that says
    /// to try again; the HTTP routes answer 503 with `Retry-After`.
    Unavailable,
}

impl Code {
    /// The HTTP status the file routes answer with this code (API.graphql).
    pub fn status(self) -> axum::http::StatusCode {
        use axum::http::StatusCode as S;
        match self {
            Code::Unauthenticated => S::UNAUTHORIZED,
            Code::Forbidden => S::FORBIDDEN,
            Code::BadUserInput => S::BAD_REQUEST,
            Code::NotFound => S::NOT_FOUND,
            Code::Conflict => S::CONFLICT,
            Code::RateLimited => S::TOO_MANY_REQUESTS,
            Code::Internal => S::INTERNAL_SERVER_ERROR,
            Code::Unavailable => S::SERVICE_UNAVAILABLE,
        }
    }

    /// The code an error of this API carries, read back (for the routes that answer
    /// through the GraphQL functions); INTERNAL when it carries none.
    pub fn of(e: &Error) -> Self {
        let code = e
            .extensions
            .as_ref()
            .and_then(|x| x.get("code"))
            .and_then(|v| match v {
                async_graphql::Value::String(s) => Some(s.as_str()),
                _ => None,
            });
        [
            Code::Unauthenticated,
            Code::Forbidden,
            Code::BadUserInput,
            Code::NotFound,
            Code::Conflict,
            Code::RateLimited,
        ]
        .into_iter()
        .find(|c| Some(c.as_str()) == code)
        .unwrap_or(Code::Internal)
    }

    /// Adds what a response with this code says beyond its status: when to try again,
    /// for an outage.
    pub fn mark(self, headers: &mut axum::http::HeaderMap) {
        if self == Code::Unavailable {
            headers.insert(
                axum::http::header::RETRY_AFTER,
                axum::http::HeaderValue::from_static("5"),
            );
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Code::Unauthenticated => "UNAUTHENTICATED",
            Code::Forbidden => "FORBIDDEN",
            Code::BadUserInput => "BAD_USER_INPUT",
            Code::NotFound => "NOT_FOUND",
            Code::Conflict => "CONFLICT",
            Code::RateLimited => "RATE_LIMITED",
            Code::Internal | Code::Unavailable => "INTERNAL",
        }
    }
}

pub fn error(code: Code, message: impl Into<String>) -> Error {
    Error::new(message.into()).extend_with(|_, e| e.set("code", code.as_str()))
}

pub fn internal(source: &(dyn std::error::Error + 'static)) -> Error {
    let (code, message) = log_internal(source);
    error(code, message)
}

/// What a client may read of a failure inside: that the database is out for a moment,
/// or only "internal error". The cause is logged here (a warning for an outage, which
/// passes by itself; an error otherwise).
pub fn log_internal(source: &(dyn std::error::Error + 'static)) -> (Code, String) {
    if database_unreachable(source) {
        tracing::warn!(error = %source, "the database cannot be reached");
        return (Code::Unavailable, DATABASE_UNAVAILABLE.to_owned());
    }
    tracing::error!(error = %source, cause = ?source.source().map(ToString::to_string), "internal error");
    (Code::Internal, "internal error".to_owned())
}

/// What a client reads while the database cannot be reached.
pub const DATABASE_UNAVAILABLE: &str =
    "the database cannot be reached just now; try again in a moment";

/// Whether `e` (or one of its causes) is PostgreSQL being out of reach rather than a
/// fault in the request or in MedChain: a lost or refused connection, no connection free
/// in time, or the server shutting down, crashing or still starting (SQLSTATE classes
/// 08 and 57P). A restart of the database produces exactly these.
pub fn database_unreachable(e: &(dyn std::error::Error + 'static)) -> bool {
    let mut next = Some(e);
    while let Some(e) = next {
        // `transparent` wrappers hand on their inner error's causes, not the inner error
        // itself: those are opened here.
        let read = e
            .downcast_ref::<crate::auth::AuthError>()
            .and_then(|e| match e {
                crate::auth::AuthError::Read(read) => Some(&**read),
                _ => None,
            })
            .or_else(|| e.downcast_ref::<ReadError>());
        let sqlx = match read {
            Some(ReadError::Database(e)) => Some(e),
            Some(ReadError::Shared(e)) => Some(&**e),
            _ => e.downcast_ref::<sqlx::Error>().or_else(|| {
                e.downcast_ref::<std::sync::Arc<sqlx::Error>>()
                    .map(|e| &**e)
            }),
        };
        if let Some(e) = sqlx {
            return match e {
                sqlx::Error::Io(_)
                | sqlx::Error::PoolTimedOut
                | sqlx::Error::PoolClosed
                | sqlx::Error::WorkerCrashed => true,
                sqlx::Error::Database(db) => db
                    .code()
                    .is_some_and(|code| code.starts_with("08") || code.starts_with("57P")),
                _ => false,
            };
        }
        next = e.source();
    }
    false
}

/// A row the command just wrote is not in its view after the wait: a bug, logged.
pub fn missing_from_view(what: &str, id: uuid::Uuid) -> Error {
    tracing::error!(%id, what, "a row just written is missing from its view");
    error(Code::Internal, "internal error")
}

/// Into the API's error, with its code.
pub trait ToGql {
    fn gql(self) -> Error;
}

/// The one mapping of a command's error, for GraphQL and the file routes alike: its code
/// and the message a client may read. An internal cause is logged here and never sent.
pub fn classify(e: CommandError) -> (Code, String) {
    match e {
        CommandError::Unauthenticated(m) => (Code::Unauthenticated, m),
        CommandError::Forbidden(m) | CommandError::ForbiddenBecause { message: m, .. } => {
            (Code::Forbidden, m)
        }
        CommandError::BadInput(m) => (Code::BadUserInput, m),
        CommandError::NotFound(m) => (Code::NotFound, m),
        CommandError::Conflict(m) => (Code::Conflict, m),
        CommandError::RateLimited(m) => (Code::RateLimited, m),
        CommandError::Internal(source) => log_internal(source.as_ref()),
    }
}

impl ToGql for CommandError {
    fn gql(self) -> Error {
        if let CommandError::ForbiddenBecause { reason, message } = self {
            return forbidden_because(reason, message);
        }
        let (code, message) = classify(self);
        error(code, message)
    }
}

/// FORBIDDEN with `extensions.reason` (API.graphql: MFA_REQUIRED, REAUTH_REQUIRED,
/// MFA_ENROLMENT_REQUIRED), so a client knows what to ask the person for.
pub fn forbidden_because(reason: &str, message: impl Into<String>) -> Error {
    let reason = reason.to_owned();
    error(Code::Forbidden, message).extend_with(move |_, e| e.set("reason", reason.as_str()))
}

impl ToGql for ReadError {
    fn gql(self) -> Error {
        internal(&self)
    }
}

impl ToGql for std::sync::Arc<ReadError> {
    fn gql(self) -> Error {
        internal(&*self)
    }
}

impl ToGql for projections::merkle::TreeError {
    fn gql(self) -> Error {
        use projections::merkle::TreeError as E;
        match self {
            E::BeyondTree { .. } | E::Invalid(_) => error(Code::BadUserInput, self.to_string()),
            other => internal(&other),
        }
    }
}

impl ToGql for sqlx::Error {
    fn gql(self) -> Error {
        internal(&self)
    }
}

impl ToGql for WaitError {
    fn gql(self) -> Error {
        match self {
            // The write is on the ledger; only the view is late. Say so plainly.
            WaitError::Timeout { .. } | WaitError::Stopped { .. } => {
                tracing::warn!(error = %self, "read-your-writes wait gave up");
                error(
                    Code::Internal,
                    "the change was recorded, but the view is not up to date yet; reload in a moment",
                )
            }
            other => internal(&other),
        }
    }
}

/// Errors that async-graphql makes itself (parse, validation, limits, input coercion)
/// carry no code; every one of them is about the request, so it is BAD_USER_INPUT.
pub fn add_missing_codes(response: &mut async_graphql::Response) {
    for e in &mut response.errors {
        let has_code = e
            .extensions
            .as_ref()
            .is_some_and(|x| x.get("code").is_some());
        if !has_code {
            e.extensions
                .get_or_insert_with(Default::default)
                .set("code", Code::BadUserInput.as_str());
        }
    }
}

impl ToGql for commands::ledger::CheckpointStoreError {
    fn gql(self) -> Error {
        match self {
            commands::ledger::CheckpointStoreError::EmptyLedger => {
                error(Code::Conflict, self.to_string())
            }
            other => internal(&other),
        }
    }
}

impl ToGql for projections::replay::ReplayError {
    fn gql(self) -> Error {
        use projections::replay::ReplayError as E;
        match self {
            E::BeyondHead { .. } | E::NegativeSeq => error(Code::BadUserInput, self.to_string()),
            other => internal(&other),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_database_out_of_reach_is_a_retry_not_a_fault() {
        let lost = || sqlx::Error::Io(std::io::Error::from(std::io::ErrorKind::BrokenPipe));
        assert!(database_unreachable(&lost()));
        assert!(database_unreachable(&sqlx::Error::PoolTimedOut));
        // Through the layers that wrap it, transparently or as a source.
        assert!(database_unreachable(&ReadError::Database(lost())));
        assert!(database_unreachable(&crate::auth::AuthError::Read(
            Box::new(ReadError::Shared(std::sync::Arc::new(lost())))
        )));
        let (code, message) = classify(CommandError::internal(lost()));
        assert_eq!(
            (code, message.as_str()),
            (Code::Unavailable, DATABASE_UNAVAILABLE)
        );
        assert_eq!(code.as_str(), "INTERNAL");
        assert_eq!(code.status(), axum::http::StatusCode::SERVICE_UNAVAILABLE);

        // A fault of ours stays "internal error".
        assert!(!database_unreachable(&sqlx::Error::RowNotFound));
        let (code, message) = classify(CommandError::internal(sqlx::Error::RowNotFound));
        assert_eq!((code, message.as_str()), (Code::Internal, "internal error"));
    }
}
