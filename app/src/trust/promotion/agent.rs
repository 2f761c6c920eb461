//! The agent's trust as a review finds it: its stage and status,
//! and the stage each capability runs at.

use crate::db::Tx;
use crate::error::{stored, AppError};
use crate::policy::Stage;
use sqlx::{AnyConnection, Row};

/// The agent's trust as it stands.
pub struct AgentNow {
    pub stage: Stage,
    pub suspended: bool,
}

pub async fn agent_now(conn: &mut AnyConnection, agent_id: &str) -> Result<AgentNow, AppError> {
    let r = sqlx::query("SELECT stage, status FROM agents WHERE id = $1")
        .bind(agent_id)
        .fetch_optional(&mut *conn)
        .await?
        .ok_or_else(|| AppError::NotFound("no such agent".into()))?;
    Ok(AgentNow {
        stage: stored(Stage::parse(&r.try_get::<String, _>("stage")?))?,
        suspended: r.try_get::<String, _>("status")? == "suspended",
    })
}

/// The stage each capability runs at now (its grant can only lower the
/// agent's); a capability without a grant cannot be promoted.
pub(super) async fn capability_stages(
    tx: &mut Tx<'_>,
    agent_id: &str,
    agent_stage: Stage,
    capabilities: &[String],
) -> Result<Vec<Stage>, AppError> {
    let mut out = Vec::new();
    for cap in capabilities {
        let r = sqlx::query("SELECT stage FROM grants WHERE agent_id = $1 AND capability = $2")
            .bind(agent_id)
            .bind(cap)
            .fetch_optional(&mut **tx)
            .await?
            .ok_or_else(|| {
                AppError::validation(format!(
                    "the agent has no grant for {cap}: grant it on the agent's scope first"
                ))
            })?;
        let grant: Option<String> = r.try_get("stage")?;
        let stage = match grant {
            Some(s) => stored(Stage::parse(&s))?.min(agent_stage),
            None => agent_stage,
        };
        out.push(stage);
    }
    Ok(out)
}
