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

    pub fn as_str(self) -> &'static str {
        match self {
            Code::Unauthenticated => "UNAUTHENTICATED",
            Code::Forbidden => "FORBIDDEN",
            Code::BadUserInput => "BAD_USER_INPUT",
            Code::NotFound => "NOT_FOUND",
            Code::Conflict => "CONFLICT",
            Code::RateLimited => "RATE_LIMITED",
            Code::Internal => "INTERNAL",
        }
    }
}

pub fn error(code: Code, message: impl Into<String>) -> Error {
    Error::new(message.into()).extend_with(|_, e| e.set("code", code.as_str()))
}

pub fn internal(source: &(dyn std::error::Error + 'static)) -> Error {
    log_internal(source);
    error(Code::Internal, "internal error")
}

fn log_internal(source: &(dyn std::error::Error + 'static)) {
    tracing::error!(error = %source, cause = ?source.source().map(ToString::to_string), "internal error");
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
        CommandError::Internal(source) => {
            log_internal(source.as_ref());
            (Code::Internal, "internal error".into())
        }
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
