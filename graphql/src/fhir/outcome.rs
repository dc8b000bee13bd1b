//! FHIR's answers on the wire: a resource as `application/fhir+json`, and every refusal
//! or failure as an `OperationOutcome` with the HTTP status FHIR's RESTful API gives it.
//! The code and message come from the API's one error mapping (`error::classify`, the
//! `Code` of API.graphql), carried in `issue.details` so an app can branch on it.

use crate::error::{Code, classify};
use axum::{
    http::{HeaderValue, StatusCode, header},
    response::{IntoResponse, Response},
};
use commands::CommandError;
use fhir::r4::{
    coded::Coded,
    codes::{IssueSeverity, IssueType},
    resources::{OperationOutcome, Resource, operation_outcome::OperationOutcomeIssue},
    types::{CodeableConcept, Coding, String as FhirString, Uri},
};

pub const FHIR_JSON: &str = "application/fhir+json; charset=utf-8";

/// A refusal or failure, answered as an OperationOutcome.
#[derive(Debug, Clone, thiserror::Error)]
#[error("{message}")]
pub struct Outcome {
    pub status: StatusCode,
    pub code: Code,
    pub message: String,
}

impl Outcome {
    pub fn new(code: Code, message: impl Into<String>) -> Self {
        Self {
            status: code.status(),
            code,
            message: message.into(),
        }
    }

    pub fn with_status(status: StatusCode, code: Code, message: impl Into<String>) -> Self {
        Self {
            status,
            code,
            message: message.into(),
        }
    }

    pub fn not_found(what: &str) -> Self {
        Self::new(Code::NotFound, format!("there is no such {what}"))
    }

    pub fn bad_request(message: impl Into<String>) -> Self {
        Self::new(Code::BadUserInput, message)
    }

    /// Something on our side; the detail goes to the log, never to the client.
    pub fn internal(e: impl std::fmt::Display) -> Self {
        tracing::error!(error = %e, "a FHIR request failed");
        Self::new(Code::Internal, "internal error")
    }

    fn issue_type(&self) -> IssueType {
        match (self.status, self.code) {
            (StatusCode::GONE, _) => IssueType::Deleted,
            (StatusCode::METHOD_NOT_ALLOWED, _) => IssueType::NotSupported,
            (_, Code::Unauthenticated) => IssueType::Login,
            (_, Code::Forbidden) => IssueType::Forbidden,
            (_, Code::BadUserInput) => IssueType::Invalid,
            (_, Code::NotFound) => IssueType::NotFound,
            (_, Code::Conflict) => IssueType::Conflict,
            (_, Code::RateLimited) => IssueType::Throttled,
            (_, Code::Internal) => IssueType::Exception,
            (_, Code::Unavailable) => IssueType::Transient,
        }
    }

    pub fn resource(&self) -> Resource {
        let issue = OperationOutcomeIssue {
            severity: Coded::Known(IssueSeverity::Error),
            code: Coded::Known(self.issue_type()),
            details: Some(CodeableConcept {
                coding: vec![Coding {
                    system: Some(Uri(CODE_SYSTEM.into())),
                    code: Some(fhir::r4::types::Code(self.code.as_str().into())),
                    ..Default::default()
                }],
                text: Some(FhirString(self.message.clone())),
                ..Default::default()
            }),
            diagnostics: Some(FhirString(self.message.clone())),
            ..Default::default()
        };
        let outcome = OperationOutcome::builder()
            .issue(vec1::vec1![issue])
            .build()
            .expect("an OperationOutcome needs only its issues, given here");
        Resource::OperationOutcome(Box::new(outcome))
    }
}

/// The system of the API's error codes (API.graphql's `extensions.code`).
pub const CODE_SYSTEM: &str = "urn:medchain:error-code";

impl From<CommandError> for Outcome {
    fn from(e: CommandError) -> Self {
        let (code, message) = classify(e);
        Self::new(code, message)
    }
}

impl From<projections::users::ReadError> for Outcome {
    fn from(e: projections::users::ReadError) -> Self {
        Self::internal(e)
    }
}

impl IntoResponse for Outcome {
    fn into_response(self) -> Response {
        let status = self.status;
        let mut response = fhir_json(&self.resource());
        *response.status_mut() = status;
        if status == StatusCode::UNAUTHORIZED {
            response.headers_mut().insert(
                header::WWW_AUTHENTICATE,
                HeaderValue::from_static("Bearer realm=\"medchain-fhir\""),
            );
        }
        self.code.mark(response.headers_mut());
        response
    }
}

/// The answer of a read or a search: the resource, or its refusal.
pub fn answer(result: Result<Resource, Outcome>) -> Response {
    match result {
        Ok(resource) => fhir_json(&resource),
        Err(outcome) => outcome.into_response(),
    }
}

/// A resource as FHIR JSON, 200, kept out of shared caches.
pub fn fhir_json(resource: &Resource) -> Response {
    match serde_json::to_vec(resource) {
        Ok(body) => {
            let mut response = Response::new(axum::body::Body::from(body));
            let h = response.headers_mut();
            h.insert(header::CONTENT_TYPE, HeaderValue::from_static(FHIR_JSON));
            crate::http::rest::private_content(h);
            response
        }
        Err(e) => Outcome::internal(e).into_response(),
    }
}
