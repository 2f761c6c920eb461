//! What the dashboard, the review pages and the kill switch show, shared
//! by the server and the browser.

use super::model::{Check, Criteria, Figures, WhatIf};
use crate::policy::Stage;
use serde::{Deserialize, Serialize};

/// The sensor's settings.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TrustSettings {
    /// A capability drops to act_with_approval when this many…
    pub spike_rejections: i64,
    /// …of its last this many human decisions were rejections.
    pub spike_window: i64,
    /// Share of auto-allowed actions sampled for spot checks, in percent.
    pub spot_check_pct: i64,
}

/// What a promotion review froze when it opened.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema), schema(as = PromotionSnapshot))]
pub struct Snapshot {
    pub taken_at: String,
    /// One per `WINDOWS` entry, for the capabilities under review.
    pub figures: Vec<Figures>,
    pub days_at_stage: i64,
    pub criteria: Criteria,
    pub checks: Vec<Check>,
    pub what_if: WhatIf,
}

pub use crate::change::Vote;

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema), schema(as = PromotionReview))]
pub struct ReviewRow {
    pub id: String,
    pub agent_id: String,
    pub agent_name: String,
    pub capabilities: Vec<String>,
    pub from: Stage,
    pub to: Stage,
    pub reinstate: bool,
    pub state: String,
    pub criteria_met: bool,
    pub opened_by: String,
    pub opened_at: String,
    pub approvals: i64,
    pub approvals_needed: i64,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema), schema(as = PromotionReviewDetail))]
pub struct ReviewDetail {
    pub row: ReviewRow,
    pub sponsor: String,
    pub max_per_hour: Option<i64>,
    pub case_text: String,
    pub skips_stages: bool,
    pub snapshot: Snapshot,
    pub votes: Vec<Vote>,
    pub closed_at: Option<String>,
    /// Why the viewer may not vote, if they may not.
    pub cannot_vote: Option<String>,
    /// The sponsor may reject, never approve.
    pub cannot_approve: Option<String>,
    pub can_withdraw: bool,
}

/// An auto-allowed action waiting for a spot check.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SpotCheck {
    pub id: String,
    pub agent_name: String,
    pub capability: String,
    pub target: String,
    pub summary: String,
    pub state: String,
    pub created_at: String,
}

/// Something a lead should know about.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Notice {
    pub id: String,
    pub at: String,
    pub kind: String,
    pub agent_id: String,
    pub agent_name: String,
    pub message: String,
}

/// What the dashboard suggests.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Suggestions {
    /// Agents meeting every criterion for their next stage.
    pub ready: Vec<Ready>,
    /// The same capability and target approved often, never edited.
    pub relax: Vec<Relax>,
    /// Rejections and corrections at 20 % or more.
    pub brittle: Vec<Brittle>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Ready {
    pub agent_id: String,
    pub agent_name: String,
    pub from: Stage,
    pub to: Stage,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Relax {
    pub agent_id: String,
    pub agent_name: String,
    pub capability: String,
    pub target: String,
    pub approvals: i64,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Brittle {
    pub agent_id: String,
    pub agent_name: String,
    pub capability: String,
    pub decided: i64,
    pub rejected: i64,
    pub corrected: i64,
}

/// What the kill switch did, for the page to say.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SuspendOutcome {
    pub keys_revoked: i64,
    pub requests_cancelled: i64,
}
