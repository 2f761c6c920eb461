//! Promotion reviews: trust is raised only by other leads, one stage at a
//! time, against readiness criteria frozen when the review opens. A review
//! is a change request of kind `promotion` (`change/`): the lead who opened
//! it and the agent's sponsor never approve it (`governance/` decides);
//! approving against unmet criteria (or across stages) needs a written
//! override.

mod agent;
mod apply;
mod list;
mod open;

pub use agent::{agent_now, AgentNow};
pub use apply::{apply, needs_override};
pub use list::{get, list};
pub use open::{open, Proposal};

use crate::policy::Stage;
use serde::{Deserialize, Serialize};

/// What a promotion changes: the change request's `after`.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Spec {
    /// Empty: the agent's own stage; otherwise these capabilities' grants.
    pub capabilities: Vec<String>,
    pub from: Stage,
    pub to: Stage,
    pub reinstate: bool,
    pub max_per_hour: Option<i64>,
}

/// What the deciders judge it on, frozen at opening: the request's `detail`.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Frozen {
    pub snapshot: serde_json::Value,
    pub criteria_met: bool,
    pub skips_stages: bool,
}
