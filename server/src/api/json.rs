//! JSON bodies for the agent API, with rejections as problem details.

use app::error::AppError;
use axum::extract::rejection::JsonRejection;
use axum::extract::{FromRequest, Request};
use serde::de::DeserializeOwned;

pub struct ApiJson<T>(pub T);

impl<S, T> FromRequest<S> for ApiJson<T>
where
    T: DeserializeOwned,
    S: Send + Sync,
{
    type Rejection = AppError;

    async fn from_request(req: Request, state: &S) -> Result<Self, Self::Rejection> {
        match axum::Json::<T>::from_request(req, state).await {
            Ok(axum::Json(value)) => Ok(ApiJson(value)),
            Err(rejection) => Err(rejected(rejection)),
        }
    }
}

fn rejected(rejection: JsonRejection) -> AppError {
    if rejection.status() == axum::http::StatusCode::PAYLOAD_TOO_LARGE {
        return AppError::PayloadTooLarge("the request body is too large".into());
    }
    let detail = rejection.body_text();
    match rejection {
        JsonRejection::JsonDataError(_) => AppError::Validation(detail),
        JsonRejection::JsonSyntaxError(_) => AppError::BadRequest(detail),
        JsonRejection::MissingJsonContentType(_) => {
            AppError::UnsupportedMediaType("send the body as application/json".into())
        }
        _ => AppError::BadRequest(detail),
    }
}
