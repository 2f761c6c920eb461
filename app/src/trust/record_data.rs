//! An agent's record as a person sees it: metrics, readiness for the next
//! stage with its what-if, and its promotion reviews. The agent page and
//! the reviewer API both read it here.

use super::model::evaluate;
use super::{metrics, promotion, settings, whatif, NextStage, RecordData};
use crate::auth::UserView;
use crate::error::AppError;
use crate::policy::Stage;
use crate::state::AppState;

pub async fn load(
    state: &AppState,
    viewer: &UserView,
    agent_id: &str,
) -> Result<RecordData, AppError> {
    crate::db::known_id(agent_id, "agent")?;
    let now = crate::db::now_ms();
    let metrics = metrics::for_agent(&state.db, agent_id, now).await?;
    let agent = promotion::agent_now(&mut *state.db.acquire().await?, agent_id).await?;
    let next = match Stage::ALL.into_iter().find(|s| *s > agent.stage) {
        Some(to) if !agent.suspended => {
            let c = settings::criteria_for(&state.db, to).await?;
            let checks = evaluate(&c, &metrics.windows[1], metrics.days_at_stage);
            let what_if = whatif::run(state, agent_id, to, &[], now).await?;
            Some(NextStage {
                to,
                checks,
                what_if,
            })
        }
        _ => None,
    };
    Ok(RecordData {
        metrics,
        next,
        reviews: promotion::list(state, Some(agent_id)).await?,
        can_open: viewer.role.can_manage_agents(),
    })
}
