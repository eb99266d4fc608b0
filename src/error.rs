//! The one error type of the service and its single mapping to `tonic::Status`.

use tonic::{Code, Status};

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
    #[error("{0}")]
    Unimplemented(String),
    /// The store cannot be reached; the call may be retried.
    #[error("{0}")]
    Unavailable(String),
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
            Self::Unimplemented(_) => Code::Unimplemented,
            Self::Unavailable(_) => Code::Unavailable,
            Self::Internal(_) => Code::Internal,
        }
    }
}

impl From<Error> for Status {
    fn from(error: Error) -> Self {
        match &error {
            Error::Internal(cause) => {
                tracing::error!(error = format!("{cause:#}"), "internal error");
                Status::internal("internal error; the server log has the details")
            }
            Error::Unavailable(cause) => {
                tracing::warn!(error = %cause, "store unavailable");
                Status::unavailable("the store is unavailable; retry later")
            }
            other => Status::new(other.code(), other.to_string()),
        }
    }
}
