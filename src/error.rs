//! The one error type of the service and its single mapping to `tonic::Status`.

use std::time::Duration;

use tonic::{Code, Status};
use tonic_types::{ErrorDetails, StatusExt};

/// Everything that can go wrong in a request, in terms the caller can act on.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The request carries a bad value; `field` names it.
    #[error("{field}: {reason}")]
    InvalidArgument { field: String, reason: String },
    #[error("{0}")]
    NotFound(String),
    #[error("{0}")]
    AlreadyExists(String),
    /// A rule of the service forbids the change (last admin, confirm word, ...).
    #[error("{0}")]
    FailedPrecondition(String),
    /// The resource changed since the caller read it (stale etag).
    #[error("{0}")]
    Aborted(String),
    #[error("{0}")]
    Unauthenticated(String),
    #[error("{0}")]
    PermissionDenied(String),
    /// The caller made more calls of a kind than its allowance; it may retry after
    /// `retry_after`, which the status also carries as a `google.rpc.RetryInfo`.
    #[error("{reason}; retry in {} s", retry_after.as_secs())]
    RateLimited {
        reason: String,
        retry_after: Duration,
    },
    /// The store cannot be reached; the call may be retried.
    #[error("{0}")]
    Unavailable(String),
    /// An IAM's user-info endpoint gave no usable answer. The message says what it did answer,
    /// since the operator fixes the endpoint from it; it never holds a secret.
    #[error("{0}")]
    EndpointFailed(String),
    /// A bug or an unexpected state: logged in full, never shown to the caller.
    #[error("internal error: {0:#}")]
    Internal(#[from] anyhow::Error),
}

pub type Result<T, E = Error> = std::result::Result<T, E>;

impl Error {
    pub fn invalid(field: impl Into<String>, reason: impl Into<String>) -> Self {
        Self::InvalidArgument {
            field: field.into(),
            reason: reason.into(),
        }
    }

    pub fn internal(message: impl Into<String>) -> Self {
        Self::Internal(anyhow::anyhow!(message.into()))
    }

    fn code(&self) -> Code {
        match self {
            Self::InvalidArgument { .. } => Code::InvalidArgument,
            Self::NotFound(_) => Code::NotFound,
            Self::AlreadyExists(_) => Code::AlreadyExists,
            Self::FailedPrecondition(_) => Code::FailedPrecondition,
            Self::Aborted(_) => Code::Aborted,
            Self::Unauthenticated(_) => Code::Unauthenticated,
            Self::PermissionDenied(_) => Code::PermissionDenied,
            Self::RateLimited { .. } => Code::ResourceExhausted,
            Self::Unavailable(_) | Self::EndpointFailed(_) => Code::Unavailable,
            Self::Internal(_) => Code::Internal,
        }
    }
}

impl Error {
    /// What the caller is told: everything but the causes of internal errors and outages,
    /// which are logged here in full instead.
    pub fn public_message(&self) -> String {
        match self {
            Self::Internal(cause) => {
                tracing::error!(error = format!("{cause:#}"), "internal error");
                "internal error; the server log has the details".into()
            }
            Self::Unavailable(cause) => {
                tracing::warn!(error = %cause, "store unavailable");
                "the store is unavailable; retry later".into()
            }
            other => other.to_string(),
        }
    }
}

impl From<Error> for Status {
    fn from(error: Error) -> Self {
        match error {
            Error::RateLimited { retry_after, .. } => Status::with_error_details(
                error.code(),
                error.public_message(),
                ErrorDetails::with_retry_info(Some(retry_after)),
            ),
            _ => Status::new(error.code(), error.public_message()),
        }
    }
}
