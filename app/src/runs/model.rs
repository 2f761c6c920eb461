//! What the run pages show, as the server functions hand it over.

use crate::actions::model::RequestState;
use serde::{Deserialize, Serialize};

/// A held request or escalation that waited this long for a person (or
/// has been waiting this long now) stalled its run.
pub const STALL_AFTER_MS: i64 = 30 * 60 * 1000;
/// Quiet this long between two steps, the run page marks the gap.
pub const GAP_MS: i64 = 5 * 60 * 1000;

/// One run's page: its summary and one page of its timeline.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RunPageData {
    pub run: RunSummary,
    pub steps: Vec<Step>,
    /// Where the next page of the timeline starts, if there is more.
    pub next: Option<i64>,
    /// The signed-in person may answer escalations.
    pub can_answer: bool,
    pub now_ms: i64,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RunSummary {
    pub id: String,
    pub agent_id: String,
    pub agent_name: String,
    /// The agent's name for the run.
    pub key: String,
    pub started_at_ms: i64,
    pub last_at_ms: i64,
    pub events: i64,
    pub actions: i64,
    pub escalations: i64,
    /// Time its held requests and escalations spent waiting for people.
    pub waited_ms: i64,
    /// What waits for a person now.
    pub waiting: Vec<Waiting>,
    pub stalled: bool,
}

/// Something of the run that waits for a person now.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Waiting {
    pub what: String,
    pub since_ms: i64,
    pub href: String,
}

/// One step of a run's timeline.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Step {
    pub at_ms: i64,
    pub what: StepKind,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum StepKind {
    /// Something the agent reported; `data` is JSON text, shown as text.
    Event {
        kind: String,
        text: Option<String>,
        url: Option<String>,
        data: Option<String>,
    },
    Escalation {
        id: String,
        text: String,
        open: bool,
    },
    Answered {
        id: String,
        by: Option<String>,
        answer: String,
        waited_ms: i64,
    },
    Submitted {
        action_id: String,
        capability: String,
        summary: String,
        decision: String,
        evidence: Vec<EvidenceLink>,
    },
    Approval {
        action_id: String,
        by: String,
    },
    Decided {
        action_id: String,
        capability: String,
        state: RequestState,
        by: Option<String>,
        note: Option<String>,
        waited_ms: i64,
    },
    Claimed {
        action_id: String,
        capability: String,
    },
    Finished {
        action_id: String,
        capability: String,
        state: RequestState,
        detail: Option<String>,
        incident: bool,
    },
}

/// A piece of evidence of a request in the run; its page shows it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct EvidenceLink {
    pub kind: String,
    pub size_bytes: i64,
}

/// The agent page's runs: counts over the last 30 days and the latest.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AgentRuns {
    pub days: i64,
    pub runs: i64,
    pub stalled: i64,
    pub escalated: i64,
    pub recent: Vec<RunListRow>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RunListRow {
    pub id: String,
    pub key: String,
    pub started_at_ms: i64,
    pub last_at_ms: i64,
    pub stalled: bool,
    pub escalated: bool,
}

/// An escalation waiting in the approval queue.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct EscalationRow {
    pub id: String,
    pub run_id: String,
    pub run_key: String,
    pub agent_id: String,
    pub agent_name: String,
    pub text: String,
    pub at_ms: i64,
}

/// The request page's "this run so far": the run's latest steps.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RunSoFar {
    pub run_id: String,
    pub key: String,
    pub steps: Vec<Step>,
    pub more: bool,
}
