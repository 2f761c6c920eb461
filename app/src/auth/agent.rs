//! An agent calling the API: its key, checked against the same fresh view
//! of keys and agents the submission writer decides with.

use super::keys;
use crate::db::now_ms;
use crate::error::AppError;
use crate::state::AppState;

/// The agent behind an API key.
#[derive(Debug, Clone)]
pub struct Principal {
    pub agent_id: String,
    pub name: String,
}

/// Resolves a bearer token to its agent, with the same check (and the same
/// fresh view of keys and agents) the submission writer uses.
pub async fn authenticate(state: &AppState, token: &str) -> Result<Principal, AppError> {
    authenticate_at(state, token).await.map(|(p, _)| p)
}

/// `authenticate`, and the policy epoch it read: what the agent may reach
/// (its grants, its MCP upstreams) is as of that epoch or later.
pub async fn authenticate_at(state: &AppState, token: &str) -> Result<(Principal, i64), AppError> {
    if !keys::well_formed(token) {
        return Err(AppError::Unauthorized("the API key is not valid".into()));
    }
    let mut conn = state.db.acquire().await?;
    let index = state.policy.current(&mut conn).await?;
    let (agent_id, agent) = index.authenticate(&keys::hash(token), now_ms())?;
    Ok((
        Principal {
            agent_id: agent_id.to_string(),
            name: agent.name.clone(),
        },
        index.epoch,
    ))
}
