//! Each agent's upstreams as of a policy epoch, kept between calls so a
//! tool call needs no lookup of its own. Registering, refreshing and
//! removing an upstream bump the epoch in their transaction, and every
//! request reads the epoch afresh as it authenticates (on any replica), so
//! an entry loaded at that epoch or later is never older than the request.

use app::db::Db;
use app::error::AppError;
use app::mcp::store::{self, Upstream};
use std::collections::HashMap;
use std::sync::{Arc, Mutex};

/// An agent's upstreams and the epoch they were loaded at (or after).
type Kept = (i64, Arc<Vec<Upstream>>);

#[derive(Default)]
pub struct Known(Mutex<HashMap<String, Kept>>);

impl Known {
    /// The agent's upstreams, as of `epoch` (read by this request) or later.
    pub async fn upstreams(
        &self,
        db: &Db,
        agent_id: &str,
        epoch: i64,
    ) -> Result<Arc<Vec<Upstream>>, AppError> {
        let kept = self
            .0
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .get(agent_id)
            .filter(|(at, _)| *at >= epoch)
            .map(|(_, u)| u.clone());
        if let Some(upstreams) = kept {
            return Ok(upstreams);
        }
        // Read after the epoch was: what is read is at least that fresh.
        let fresh = Arc::new(store::for_agent(db, agent_id).await?);
        let mut all = self.0.lock().unwrap_or_else(|e| e.into_inner());
        let newer = all.get(agent_id).is_some_and(|(at, _)| *at > epoch);
        if !newer {
            all.insert(agent_id.to_string(), (epoch, fresh.clone()));
        }
        Ok(fresh)
    }
}
