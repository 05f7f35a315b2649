//! The one error type of every operation. Each variant is one `extensions.code` of the API.

use std::fmt;

/// What went wrong, in terms a client can act on. Internal details never travel in here:
/// `Internal` carries a message for the logs only.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DomainError {
    #[error("authentication required")]
    Unauthenticated(String),
    #[error("{0}")]
    Forbidden(String),
    /// FORBIDDEN about one input field (e.g. booking for someone without access: `userId`).
    #[error("{message}")]
    ForbiddenOn { field: String, message: String },
    /// Unknown, other-tenant and not-visible objects all answer this, identically.
    #[error("{0} not found")]
    NotFound(&'static str),
    #[error("{message}")]
    Validation { field: String, message: String },
    #[error("{message}")]
    Conflict { field: String, message: String },
    #[error("too many attempts; retry in {retry_after_secs} seconds")]
    RateLimited { retry_after_secs: u64 },
    /// A failure the client cannot fix (a bug). The text is logged, never shown.
    #[error("internal error")]
    Internal(String),
    /// The operation collided with a concurrent one (a deadlock, a serialization failure) and
    /// changed nothing. Operations retry once (see `Domain::retrying`); one that still
    /// collides answers CONFLICT on its field.
    #[error("changed concurrently by someone else; try again")]
    Contended,
    /// Storage cannot be reached; the request may be retried. Code INTERNAL; the detail is logged.
    #[error("storage unavailable")]
    Unavailable(String),
}

/// The stable codes of DESIGN.md §7.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ErrorCode {
    Unauthenticated,
    Forbidden,
    NotFound,
    Validation,
    Conflict,
    RateLimited,
    Internal,
}

impl ErrorCode {
    pub fn as_str(self) -> &'static str {
        match self {
            ErrorCode::Unauthenticated => "UNAUTHENTICATED",
            ErrorCode::Forbidden => "FORBIDDEN",
            ErrorCode::NotFound => "NOT_FOUND",
            ErrorCode::Validation => "VALIDATION",
            ErrorCode::Conflict => "CONFLICT",
            ErrorCode::RateLimited => "RATE_LIMITED",
            ErrorCode::Internal => "INTERNAL",
        }
    }
}

impl fmt::Display for ErrorCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl DomainError {
    pub fn code(&self) -> ErrorCode {
        match self {
            DomainError::Unauthenticated(_) => ErrorCode::Unauthenticated,
            DomainError::Forbidden(_) | DomainError::ForbiddenOn { .. } => ErrorCode::Forbidden,
            DomainError::NotFound(_) => ErrorCode::NotFound,
            DomainError::Validation { .. } => ErrorCode::Validation,
            DomainError::Conflict { .. } | DomainError::Contended => ErrorCode::Conflict,
            DomainError::RateLimited { .. } => ErrorCode::RateLimited,
            DomainError::Internal(_) | DomainError::Unavailable(_) => ErrorCode::Internal,
        }
    }

    /// The input field the error is about, for VALIDATION and CONFLICT (and FORBIDDEN on a field).
    pub fn field(&self) -> Option<&str> {
        match self {
            DomainError::Validation { field, .. }
            | DomainError::Conflict { field, .. }
            | DomainError::ForbiddenOn { field, .. } => Some(field),
            _ => None,
        }
    }

    /// The message a client may read. Internal errors say nothing about their cause.
    pub fn public_message(&self) -> String {
        match self {
            DomainError::Unauthenticated(msg) => msg.clone(),
            DomainError::Internal(_) => "internal error".to_owned(),
            DomainError::Unavailable(_) => "storage unavailable; retry shortly".to_owned(),
            other => other.to_string(),
        }
    }

    pub fn validation(field: impl Into<String>, message: impl Into<String>) -> Self {
        DomainError::Validation {
            field: field.into(),
            message: message.into(),
        }
    }

    pub fn conflict(field: impl Into<String>, message: impl Into<String>) -> Self {
        DomainError::Conflict {
            field: field.into(),
            message: message.into(),
        }
    }

    pub fn forbidden(message: impl Into<String>) -> Self {
        DomainError::Forbidden(message.into())
    }

    pub fn internal(message: impl Into<String>) -> Self {
        DomainError::Internal(message.into())
    }

    /// Prefixes the field of a VALIDATION or CONFLICT error (`administrator.email`).
    pub fn within(self, parent: &str) -> Self {
        match self {
            DomainError::Validation { field, message } => DomainError::Validation {
                field: format!("{parent}.{field}"),
                message,
            },
            DomainError::Conflict { field, message } => DomainError::Conflict {
                field: format!("{parent}.{field}"),
                message,
            },
            other => other,
        }
    }
}

pub type DomainResult<T> = Result<T, DomainError>;
