//! One application error type: explicit client-facing variants, and an opaque
//! internal one whose details are logged, never shown.

use carnet_domain::FieldErrors;

#[derive(Debug, thiserror::Error)]
pub enum AppError {
    #[error("invalid input: {}", .0.summary())]
    Invalid(FieldErrors),
    #[error("not found")]
    NotFound,
    #[error("forbidden")]
    Forbidden,
    #[error("authentication required")]
    Unauthorized,
    #[error("{0}")]
    Conflict(String),
    #[error("too many requests")]
    TooManyRequests,
    #[error("the request body is too large")]
    PayloadTooLarge,
    #[error("{0}")]
    UnsupportedMediaType(String),
    /// A service Carnet depends on (the SMTP relay) cannot be used now.
    #[error("{0}")]
    Unavailable(String),
    #[error("internal error: {0}")]
    Internal(String),
}

impl AppError {
    pub fn internal(e: impl std::fmt::Display) -> Self {
        AppError::Internal(e.to_string())
    }
    pub fn field(field: &str, reason: impl Into<String>) -> Self {
        AppError::Invalid(FieldErrors::single(field, reason))
    }
}

/// Database errors mapped once: a missing row is 404; a unique violation a
/// conflict (409: the value is taken); a foreign-key violation an invalid
/// reference (422: it names something that does not exist, or is still used);
/// the rest internal (logged, never shown). Services that can name the field
/// check these cases themselves first.
impl From<sqlx::Error> for AppError {
    fn from(e: sqlx::Error) -> Self {
        match e {
            sqlx::Error::RowNotFound => AppError::NotFound,
            sqlx::Error::Database(d) if d.is_unique_violation() => AppError::Conflict("a record with this value already exists".into()),
            sqlx::Error::Database(d) if d.is_foreign_key_violation() => AppError::field(
                "reference",
                "names a record that does not exist, or the record is still used elsewhere",
            ),
            other => AppError::Internal(other.to_string()),
        }
    }
}

impl From<FieldErrors> for AppError {
    fn from(e: FieldErrors) -> Self {
        AppError::Invalid(e)
    }
}

pub type Result<T, E = AppError> = std::result::Result<T, E>;
