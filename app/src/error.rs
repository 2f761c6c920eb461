//! The one error type. Every failure a caller can see is one of these
//! variants; the REST API turns it into RFC 9457 problem details and server
//! functions carry it to the browser, both with an honest status code.

use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, thiserror::Error)]
pub enum AppError {
    #[error("{0}")]
    BadRequest(String),
    #[error("{0}")]
    Unauthorized(String),
    #[error("{0}")]
    Forbidden(String),
    #[error("{0}")]
    NotFound(String),
    #[error("{0}")]
    MethodNotAllowed(String),
    #[error("{0}")]
    Conflict(String),
    #[error("{0}")]
    PayloadTooLarge(String),
    #[error("{0}")]
    UnsupportedMediaType(String),
    #[error("{0}")]
    Validation(String),
    /// Too many attempts; retry after this many seconds.
    #[error("{0}")]
    TooManyRequests(String, u64),
    /// Overloaded for a moment; retry after this many seconds.
    #[error("{0}")]
    Busy(String, u64),
    /// The cause was logged where it happened; callers only learn that it failed.
    #[error("something went wrong on our side; the cause has been logged")]
    Internal,
    /// The browser could not reach the server function (network, decoding).
    #[error("could not reach Belay: {0}")]
    Transport(String),
}

/// RFC 9457 problem details: the body of every error the REST API answers.
#[derive(Debug, Serialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct Problem {
    /// `/problems/<slug>`, one per kind of error.
    #[serde(rename = "type")]
    pub kind: String,
    pub title: &'static str,
    #[cfg_attr(feature = "ssr", schema(minimum = 400, maximum = 599))]
    pub status: u16,
    pub detail: String,
}

impl AppError {
    /// The problem details the REST API answers with.
    pub fn problem(&self) -> Problem {
        Problem {
            kind: format!("/problems/{}", self.slug()),
            title: self.title(),
            status: self.status(),
            detail: self.to_string(),
        }
    }

    pub fn status(&self) -> u16 {
        match self {
            AppError::BadRequest(_) => 400,
            AppError::Unauthorized(_) => 401,
            AppError::Forbidden(_) => 403,
            AppError::NotFound(_) => 404,
            AppError::MethodNotAllowed(_) => 405,
            AppError::Conflict(_) => 409,
            AppError::PayloadTooLarge(_) => 413,
            AppError::UnsupportedMediaType(_) => 415,
            AppError::Validation(_) => 422,
            AppError::TooManyRequests(..) => 429,
            AppError::Busy(..) => 503,
            AppError::Internal | AppError::Transport(_) => 500,
        }
    }

    /// Short human title for problem details.
    pub fn title(&self) -> &'static str {
        match self {
            AppError::BadRequest(_) => "Bad request",
            AppError::Unauthorized(_) => "Unauthorized",
            AppError::Forbidden(_) => "Forbidden",
            AppError::NotFound(_) => "Not found",
            AppError::MethodNotAllowed(_) => "Method not allowed",
            AppError::Conflict(_) => "Conflict",
            AppError::PayloadTooLarge(_) => "Payload too large",
            AppError::UnsupportedMediaType(_) => "Unsupported media type",
            AppError::Validation(_) => "Unprocessable content",
            AppError::TooManyRequests(..) => "Too many requests",
            AppError::Busy(..) => "Service unavailable",
            AppError::Internal | AppError::Transport(_) => "Internal error",
        }
    }

    /// Stable slug naming the problem type (`/problems/<slug>`).
    pub fn slug(&self) -> &'static str {
        match self {
            AppError::BadRequest(_) => "bad-request",
            AppError::Unauthorized(_) => "unauthorized",
            AppError::Forbidden(_) => "forbidden",
            AppError::NotFound(_) => "not-found",
            AppError::MethodNotAllowed(_) => "method-not-allowed",
            AppError::Conflict(_) => "conflict",
            AppError::PayloadTooLarge(_) => "payload-too-large",
            AppError::UnsupportedMediaType(_) => "unsupported-media-type",
            AppError::Validation(_) => "validation",
            AppError::TooManyRequests(..) => "too-many-requests",
            AppError::Busy(..) => "busy",
            AppError::Internal | AppError::Transport(_) => "internal",
        }
    }

    /// When to try again, for `Retry-After`.
    pub fn retry_after(&self) -> Option<u64> {
        match self {
            AppError::TooManyRequests(_, secs) | AppError::Busy(_, secs) => Some(*secs),
            _ => None,
        }
    }

    pub fn validation(msg: impl Into<String>) -> Self {
        AppError::Validation(msg.into())
    }
}

impl leptos::server_fn::error::FromServerFnError for AppError {
    type Encoder = leptos::server_fn::codec::JsonEncoding;

    fn from_server_fn_error(value: leptos::server_fn::error::ServerFnErrorErr) -> Self {
        use leptos::server_fn::error::ServerFnErrorErr as E;
        let err = match value {
            E::Args(m) | E::MissingArg(m) => AppError::BadRequest(m),
            other => AppError::Transport(other.to_string()),
        };
        // On the server this runs when arguments fail to decode, before the
        // function body: record the status here too, or it would be a 500.
        #[cfg(feature = "ssr")]
        set_status(&err);
        err
    }
}

#[cfg(feature = "ssr")]
mod ssr {
    use super::AppError;
    use axum::http::{header, StatusCode};
    use axum::response::{IntoResponse, Response};

    impl From<sqlx::Error> for AppError {
        fn from(err: sqlx::Error) -> Self {
            if let sqlx::Error::Database(db) = &err {
                if db.is_unique_violation() {
                    return AppError::Conflict("that already exists".into());
                }
            }
            tracing::error!(error = %err, "database error");
            AppError::Internal
        }
    }

    impl From<tokio::task::JoinError> for AppError {
        fn from(err: tokio::task::JoinError) -> Self {
            tracing::error!(error = %err, "background task failed");
            AppError::Internal
        }
    }

    impl IntoResponse for AppError {
        /// RFC 9457 problem details.
        fn into_response(self) -> Response {
            let status =
                StatusCode::from_u16(self.status()).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
            let body = super::Problem {
                status: status.as_u16(),
                ..self.problem()
            };
            // Four plain fields: serializing them cannot fail.
            let body = serde_json::to_string(&body).unwrap_or_default();
            let mut res = (
                status,
                [(header::CONTENT_TYPE, "application/problem+json")],
                body,
            )
                .into_response();
            if let Some(secs) = self.retry_after() {
                res.headers_mut()
                    .insert(header::RETRY_AFTER, header::HeaderValue::from(secs));
            }
            if status == StatusCode::UNAUTHORIZED {
                res.headers_mut().insert(
                    header::WWW_AUTHENTICATE,
                    header::HeaderValue::from_static("Bearer realm=\"belay\""),
                );
            }
            res
        }
    }
}

/// A stored value we cannot read is our fault, never the caller's: logged,
/// and reported as an internal error.
#[cfg(feature = "ssr")]
pub fn stored<T, E: std::fmt::Display>(value: Result<T, E>) -> Result<T, AppError> {
    value.map_err(|e| {
        tracing::error!(error = %e, "stored value is invalid");
        AppError::Internal
    })
}

/// Server functions return this: it records the error's status on the
/// response, so the browser endpoint answers 409 for a conflict, not 500.
#[cfg(feature = "ssr")]
pub fn with_status<T>(result: Result<T, AppError>) -> Result<T, AppError> {
    if let Err(err) = &result {
        set_status(err);
    }
    result
}

#[cfg(feature = "ssr")]
fn set_status(err: &AppError) {
    if let Some(opts) = leptos::prelude::use_context::<leptos_axum::ResponseOptions>() {
        opts.set_status(
            axum::http::StatusCode::from_u16(err.status())
                .unwrap_or(axum::http::StatusCode::INTERNAL_SERVER_ERROR),
        );
        if let Some(secs) = err.retry_after() {
            opts.insert_header(
                axum::http::header::RETRY_AFTER,
                axum::http::HeaderValue::from(secs),
            );
        }
    }
}

/// Runs a server function's body and records its error status (see `with_status`).
#[cfg(feature = "ssr")]
pub async fn respond<T>(
    body: impl std::future::Future<Output = Result<T, AppError>>,
) -> Result<T, AppError> {
    with_status(body.await)
}
