//! The agent's credential: `Authorization: Bearer <key>`. A missing or
//! malformed header is refused, never treated as anonymous.

use app::agents::store::{self, Principal};
use app::error::AppError;
use app::state::AppState;
use axum::extract::FromRequestParts;
use axum::http::{header, request::Parts};

pub struct Agent(pub Principal);

impl FromRequestParts<AppState> for Agent {
    type Rejection = AppError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, AppError> {
        let value = parts
            .headers
            .get(header::AUTHORIZATION)
            .ok_or_else(|| {
                AppError::Unauthorized("missing API key: send Authorization: Bearer <key>".into())
            })?
            .to_str()
            .map_err(|_| AppError::Unauthorized("the Authorization header is malformed".into()))?;
        let token = value
            .strip_prefix("Bearer ")
            .or_else(|| value.strip_prefix("bearer "))
            .ok_or_else(|| {
                AppError::Unauthorized("use the Bearer scheme: Authorization: Bearer <key>".into())
            })?;
        let principal = store::authenticate(&state.db, token.trim()).await?;
        tracing::Span::current().record("agent", principal.name.as_str());
        Ok(Agent(principal))
    }
}
