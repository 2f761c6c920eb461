//! What Belay would do now with a call to an upstream tool at the agent's
//! stage: the gateway appends it to each tool's description in
//! `tools/list`, and a lead's page shows it beside the tool. Nothing is
//! recorded: the rule book is asked with empty arguments.

use crate::error::AppError;
use crate::policy::facts::decide_now;
use crate::policy::{Outcome, Request};
use crate::state::AppState;
use sqlx::AnyConnection;

/// Asks the rule book about calls of one agent; one policy snapshot for all.
pub struct Asker<'a> {
    state: &'a AppState,
    conn: sqlx::pool::PoolConnection<sqlx::Any>,
    index: std::sync::Arc<crate::policy::Index>,
    /// How long a held call waits for a decision, for the wording.
    wait_secs: u64,
}

impl<'a> Asker<'a> {
    pub async fn new(state: &'a AppState, wait_secs: u64) -> Result<Asker<'a>, AppError> {
        let mut conn = state.db.acquire().await?;
        let index = state.policy.current(&mut conn).await?;
        Ok(Asker {
            state,
            conn,
            index,
            wait_secs,
        })
    }

    /// The outcome, and in words what Belay does with such a call.
    pub async fn ask(
        &mut self,
        agent_id: &str,
        capability: &str,
        upstream: &str,
    ) -> (Outcome, String) {
        let empty = serde_json::json!({});
        let req = Request {
            capability,
            target: upstream,
            params: &empty,
        };
        let conn: &mut AnyConnection = &mut self.conn;
        let d = decide_now(conn, &self.state.policy, &self.index, agent_id, &req, 0).await;
        let words = match d.outcome {
            Outcome::Allowed => "runs at once: allowed at this agent's stage.".to_string(),
            Outcome::PendingApproval => format!(
                "needs human approval before it runs (held for: {}); the call waits up to {}s for a decision, and calling again with the same arguments keeps waiting on the same request.",
                d.held_for.iter().map(|k| k.as_str()).collect::<Vec<_>>().join(", "),
                self.wait_secs
            ),
            Outcome::Drafted => {
                "recorded as a draft for humans; it does not run from here.".to_string()
            }
            Outcome::Denied => format!(
                "not available to this agent: {}",
                d.reasons.first().map(String::as_str).unwrap_or("refused")
            ),
        };
        (d.outcome, words)
    }
}
