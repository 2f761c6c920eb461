//! The agent's credential: `Authorization: Bearer <key>`. A missing or
//! malformed header is refused, never treated as anonymous.

use super::quota::Quotas;
use app::auth::agent::{self, Principal};
use app::auth::keys;
use app::db::now_ms;
use app::error::AppError;
use app::quota::limits::{Kind, Overrides};
use app::state::AppState;
use axum::extract::FromRequestParts;
use axum::http::{header, request::Parts};
use std::sync::Arc;

/// An authenticated agent (checked now, against the current view of keys).
pub struct Agent(pub Principal);

impl FromRequestParts<AppState> for Agent {
    type Rejection = AppError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, AppError> {
        let principal = agent::authenticate(state, bearer(parts)?).await?;
        tracing::Span::current().record("agent", principal.name.as_str());
        Ok(Agent(principal))
    }
}

/// A key checked before the body is read, so a stranger's request costs
/// no parsing: a key the cached index knows passes at once (the decision
/// writer checks it again, in the transaction that decides, against the
/// same view of agents and keys that decides it); any other key is looked
/// up afresh and refused with 401 / 403 before a byte of the body is read.
/// The agent's submission quota is charged here too (429 past it).
pub struct AgentKey(pub String);

impl FromRequestParts<AppState> for AgentKey {
    type Rejection = AppError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, AppError> {
        let token = bearer(parts)?;
        if !keys::well_formed(token) {
            return Err(AppError::Unauthorized("the API key is not valid".into()));
        }
        let hash = keys::hash(token);
        let cached = state.policy.cached().and_then(|index| {
            let (agent_id, agent) = index.authenticate(&hash, now_ms()).ok()?;
            Some((agent_id.to_string(), agent.quotas))
        });
        let (agent_id, own) = match cached {
            Some(found) => found,
            None => {
                let agent_id = agent::authenticate(state, token).await?.agent_id;
                let own = own_quotas(state, &agent_id).await?;
                (agent_id, own)
            }
        };
        // Per agent, not per key: more keys (a rotation) buy no more.
        // The router always carries the quotas; without them, refuse.
        let quotas = parts.extensions.get::<Arc<Quotas>>().ok_or_else(|| {
            tracing::error!("the agent API was built without its quotas");
            AppError::Internal
        })?;
        let per_minute = state.settings.quotas.for_agent(&own).get(Kind::Submissions);
        quotas.submission(&state.quota, &agent_id, per_minute)?;
        Ok(AgentKey(hash))
    }
}

/// The agent's own quotas: from the cached index when it knows the agent
/// (no query on the hot path; a change reaches it with the next reload),
/// otherwise from the index as of now.
pub async fn own_quotas(state: &AppState, agent_id: &str) -> Result<Overrides, AppError> {
    let cached = state.policy.cached();
    if let Some(quotas) = cached.and_then(|i| i.agents.get(agent_id).map(|a| a.quotas)) {
        return Ok(quotas);
    }
    let mut conn = state.db.acquire().await?;
    let index = state.policy.current(&mut conn).await?;
    Ok(index
        .agents
        .get(agent_id)
        .map(|a| a.quotas)
        .unwrap_or_default())
}

pub(crate) fn bearer(parts: &Parts) -> Result<&str, AppError> {
    let value = parts
        .headers
        .get(header::AUTHORIZATION)
        .ok_or_else(|| {
            AppError::Unauthorized("missing API key: send Authorization: Bearer <key>".into())
        })?
        .to_str()
        .map_err(|_| AppError::Unauthorized("the Authorization header is malformed".into()))?;
    // The scheme name is case-insensitive (RFC 9110 §11.1).
    match value.trim_start().split_once(' ') {
        Some((scheme, key)) if scheme.eq_ignore_ascii_case("bearer") => Ok(key.trim()),
        _ => Err(AppError::Unauthorized(
            "use the Bearer scheme: Authorization: Bearer <key>".into(),
        )),
    }
}
