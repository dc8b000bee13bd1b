//! The command layer's one error type: what went wrong, in the terms the API reports
//! (`graphql` maps each variant to one `extensions.code`, once). Messages of the first
//! six are for the user; `Internal` keeps its source for the log and says nothing more.

use crate::{AppendError, keys::KeyError, password_hasher::PasswordHashError};

#[derive(Debug, thiserror::Error)]
pub enum CommandError {
    #[error("{0}")]
    Unauthenticated(String),
    #[error("{0}")]
    Forbidden(String),
    /// Forbidden until the person does what `reason` names (API.graphql's
    /// `extensions.reason`: MFA_REQUIRED, REAUTH_REQUIRED, MFA_ENROLMENT_REQUIRED).
    #[error("{message}")]
    ForbiddenBecause {
        reason: &'static str,
        message: String,
    },
    #[error("{0}")]
    BadInput(String),
    #[error("{0}")]
    NotFound(String),
    #[error("{0}")]
    Conflict(String),
    #[error("{0}")]
    RateLimited(String),
    #[error("internal error")]
    Internal(#[source] Box<dyn std::error::Error + Send + Sync>),
}

impl CommandError {
    pub fn bad_input(e: impl std::fmt::Display) -> Self {
        Self::BadInput(e.to_string())
    }

    pub fn internal(e: impl std::error::Error + Send + Sync + 'static) -> Self {
        Self::Internal(Box::new(e))
    }
}

impl From<sqlx::Error> for CommandError {
    fn from(e: sqlx::Error) -> Self {
        Self::internal(e)
    }
}

impl From<KeyError> for CommandError {
    fn from(e: KeyError) -> Self {
        Self::internal(e)
    }
}

impl From<PasswordHashError> for CommandError {
    fn from(e: PasswordHashError) -> Self {
        match e {
            PasswordHashError::Busy => Self::RateLimited(e.to_string()),
            other => Self::internal(other),
        }
    }
}

impl From<AppendError> for CommandError {
    fn from(e: AppendError) -> Self {
        match e {
            AppendError::Conflict { .. } => {
                Self::Conflict("someone else changed this at the same moment; try again".into())
            }
            // FORBIDDEN for everyone alike, with a reason a client can show as a banner.
            AppendError::ReadOnly(message) => Self::ForbiddenBecause {
                reason: "READ_ONLY",
                message,
            },
            other => Self::internal(other),
        }
    }
}
