//! Promotion reviews: trust is raised only by other leads, one stage at a
//! time, against readiness criteria frozen when the review opens. The lead
//! who opened a review and the agent's sponsor never approve it; approving
//! against unmet criteria (or across stages) needs a written override.

mod agent;
mod apply;
mod list;
mod open;
mod vote;

pub use agent::{agent_now, AgentNow};
pub use list::{get, list};
pub use open::{open, Proposal};
pub use vote::{vote, withdraw, Ballot};
