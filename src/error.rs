//! The one error type of the service and its single mapping to `tonic::Status`.

use std::{error::Error as StdError, fmt, time::Duration};

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
    /// The store cannot be reached; the call may be retried. `message` says what could not be
    /// done; `source`, when there is one, is why (a driver or I/O error), kept for the log.
    #[error("{message}")]
    Unavailable {
        message: String,
        #[source]
        source: Option<Box<dyn StdError + Send + Sync>>,
    },
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

    /// The store cannot be used: `message` says what failed, `source` why.
    pub fn unavailable(
        message: impl Into<String>,
        source: impl Into<Box<dyn StdError + Send + Sync>>,
    ) -> Self {
        Self::Unavailable {
            message: message.into(),
            source: Some(source.into()),
        }
    }

    /// The store cannot be used, for a reason `message` says in full.
    pub fn unavailable_without_cause(message: impl Into<String>) -> Self {
        Self::Unavailable {
            message: message.into(),
            source: None,
        }
    }

    /// This error with every cause under it, for a log line or an operator:
    /// `what failed: why: why that`.
    pub fn with_causes(&self) -> WithCauses<'_> {
        WithCauses(self)
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
            Self::Unavailable { .. } | Self::EndpointFailed(_) => Code::Unavailable,
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
            Self::Unavailable { .. } => {
                tracing::warn!(error = %self.with_causes(), "store unavailable");
                "the store is unavailable; retry later".into()
            }
            other => other.to_string(),
        }
    }
}

/// An [`Error`] shown with its chain of causes; see [`Error::with_causes`].
pub struct WithCauses<'a>(&'a Error);

impl fmt::Display for WithCauses<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // An internal error's message already holds its causes (anyhow's `{:#}`).
        if let Error::Internal(_) = self.0 {
            return write!(f, "{}", self.0);
        }
        let mut shown = self.0.to_string();
        f.write_str(&shown)?;
        let mut cause = self.0.source();
        while let Some(error) = cause {
            let text = error.to_string();
            // Many errors repeat their source in their own message (sqlx's "error communicating
            // with database: <the I/O error>"): say each thing once.
            if !shown.ends_with(&text) {
                write!(f, ": {text}")?;
            }
            shown = text;
            cause = error.source();
        }
        Ok(())
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_outage_keeps_its_cause_for_the_log_and_not_for_the_caller() {
        let refused = std::io::Error::new(std::io::ErrorKind::ConnectionRefused, "refused");
        let error = Error::unavailable("cannot reach the database", refused);
        assert_eq!(error.to_string(), "cannot reach the database");
        assert_eq!(
            error.source().map(ToString::to_string).as_deref(),
            Some("refused")
        );
        assert_eq!(
            error.with_causes().to_string(),
            "cannot reach the database: refused"
        );
        assert_eq!(
            format!("{:#}", anyhow::Error::new(error)),
            "cannot reach the database: refused",
            "a start-up error shows the chain once"
        );
        let status = Status::from(Error::unavailable(
            "cannot reach the database",
            std::io::Error::other("password authentication failed for user \"personae\""),
        ));
        assert_eq!(status.code(), Code::Unavailable);
        assert_eq!(status.message(), "the store is unavailable; retry later");
    }

    #[test]
    fn a_cause_repeated_in_its_parent_is_shown_once() {
        let io = std::io::Error::other("connection reset");
        let sqlx = sqlx::Error::Io(io);
        let error = Error::unavailable("cannot reach the database", sqlx);
        assert_eq!(
            error.with_causes().to_string(),
            "cannot reach the database: error communicating with database: connection reset"
        );
        let plain = Error::unavailable_without_cause("the database did not answer within 1s");
        assert_eq!(
            plain.with_causes().to_string(),
            "the database did not answer within 1s"
        );
    }
}
