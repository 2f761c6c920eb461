//! What the reviewer API answers: the same data the browser's pages get
//! from the same service calls, with times in RFC 3339 and evidence as
//! metadata plus a link to its bytes (never rendered).

use app::actions::{ActionPageData, QueuePage, QueueRow, Record, RequestState};
use app::auth::Role;
use app::clock::parse_display;
use app::db::rfc3339;
use app::evidence::EvidenceInfo;
use app::policy::{Outcome, RuleKey, Stage, Trigger};
use app::tokens::Scope;
use serde::Serialize;
use utoipa::ToSchema;

/// A display time (`2026-11-23 20:41:07 UTC`) from a shared type, as RFC 3339.
pub fn rfc3339_of(display: &str) -> String {
    parse_display(display).map(rfc3339).unwrap_or_default()
}

/// Bytes as stored, for a download.
pub struct Bytes;

impl utoipa::PartialSchema for Bytes {
    fn schema() -> utoipa::openapi::RefOr<utoipa::openapi::schema::Schema> {
        app::openapi::binary().into()
    }
}

impl ToSchema for Bytes {}

/// Who a token acts for.
#[derive(Serialize, ToSchema)]
pub struct Caller {
    pub id: String,
    pub username: String,
    /// Their role now: a token never does more than it allows.
    pub role: Role,
    pub scope: Scope,
}

/// One page of requests waiting for approval: riskiest first, then longest waiting.
#[derive(Serialize, ToSchema)]
pub struct ReviewQueue {
    pub items: Vec<QueueItem>,
    /// Requests matching the filters, on every page.
    pub matching: i64,
    /// Everything waiting, filters or not.
    pub waiting: i64,
    /// Of those, the ones the caller has not approved yet.
    pub for_you: i64,
    /// Pass as `after` for the next page; null on the last.
    pub next: Option<String>,
}

/// A request waiting for approval.
#[derive(Serialize, ToSchema)]
pub struct QueueItem {
    pub id: String,
    pub agent_name: String,
    pub capability: String,
    /// False when the catalog does not know the capability: treated as high risk.
    pub capability_known: bool,
    pub triggers: Vec<Trigger>,
    /// Why it was held.
    pub held_for: Vec<RuleKey>,
    pub summary: String,
    pub target: String,
    pub stage: Stage,
    pub risk: i64,
    #[schema(format = DateTime)]
    pub created_at: String,
    /// Unapproved by then, it expires (expiry means no).
    #[schema(format = DateTime)]
    pub expires_at: Option<String>,
    pub approvals_required: u8,
    pub approvals: u8,
    /// A reviewer edited the params.
    pub edited: bool,
    /// What a decision binds to: send it back with the decision.
    pub payload_hash: String,
}

impl ReviewQueue {
    pub fn from(page: QueuePage) -> Self {
        ReviewQueue {
            items: page.rows.into_iter().map(QueueItem::from).collect(),
            matching: page.matching,
            waiting: page.waiting,
            for_you: page.for_you,
            next: page.next,
        }
    }
}

impl From<QueueRow> for QueueItem {
    fn from(r: QueueRow) -> Self {
        QueueItem {
            id: r.id,
            agent_name: r.agent_name,
            capability: r.capability,
            capability_known: r.capability_known,
            triggers: r.triggers,
            held_for: r.held_for,
            summary: r.summary,
            target: r.target,
            stage: r.stage,
            risk: r.risk,
            created_at: rfc3339(r.created_at_ms),
            expires_at: r.expires_at_ms.map(rfc3339),
            approvals_required: r.approvals_required,
            approvals: r.approvals,
            edited: r.edited,
            payload_hash: r.payload_hash,
        }
    }
}

/// One piece of evidence: what it is, and where its bytes are (served as
/// a download, never rendered).
#[derive(Serialize, ToSchema)]
pub struct EvidenceLink {
    #[serde(flatten)]
    pub info: EvidenceInfo,
    /// `GET` it with the same token.
    pub url: String,
}

/// A request as a reviewer decides it.
#[derive(Serialize, ToSchema)]
pub struct ReviewRequest {
    pub id: String,
    pub agent_id: String,
    pub agent_name: String,
    /// The agent's accountable person.
    pub sponsor: Option<String>,
    pub stage: Stage,
    pub capability: String,
    pub capability_known: bool,
    pub triggers: Vec<Trigger>,
    pub target: String,
    pub summary: String,
    /// As the agent submitted them.
    #[schema(value_type = Object)]
    pub params: serde_json::Value,
    /// As a reviewer edited them (what an approval approves).
    #[schema(value_type = Option<Object>)]
    pub edited_params: Option<serde_json::Value>,
    /// What the edit changed, per param.
    #[schema(value_type = Option<Object>)]
    pub correction: Option<serde_json::Value>,
    pub observation: Option<String>,
    pub decision: Outcome,
    pub reasons: Vec<String>,
    pub policy_version: i64,
    pub held_for: Vec<RuleKey>,
    pub approvals_required: u8,
    /// Who approved so far (usernames, in order).
    pub approved_by: Vec<String>,
    pub state: RequestState,
    #[schema(format = DateTime)]
    pub created_at: String,
    #[schema(format = DateTime)]
    pub expires_at: Option<String>,
    #[schema(format = DateTime)]
    pub decided_at: Option<String>,
    pub decided_by: Option<String>,
    pub decision_note: Option<String>,
    /// SHA-256 over what a reviewer sees (params as edited, evidence): send it back with a decision; if the request changed since, the decision is refused (409).
    pub payload_hash: String,
    #[schema(format = DateTime)]
    pub claim_by: Option<String>,
    #[schema(format = DateTime)]
    pub claimed_at: Option<String>,
    #[schema(format = DateTime)]
    pub outcome_at: Option<String>,
    pub outcome_detail: Option<String>,
    pub incident: bool,
    pub evidence: Vec<EvidenceLink>,
    /// The caller may decide it now: their role decides, the token is scoped decide, and it waits for approval.
    pub can_decide: bool,
    /// The rules in force let the agent's sponsor approve it.
    pub sponsor_may_approve: bool,
    /// The caller sponsors the agent and the rules do not let them approve.
    pub sponsor_barred: bool,
    /// The agent's record with this capability.
    pub record: Record,
}

impl ReviewRequest {
    pub fn from(page: ActionPageData, scope: Scope) -> Self {
        let a = page.action;
        let evidence = a
            .evidence
            .into_iter()
            .map(|info| EvidenceLink {
                url: format!("/api/v1/review/evidence/{}", info.id),
                info,
            })
            .collect();
        ReviewRequest {
            can_decide: page.can_decide
                && scope == Scope::Decide
                && a.state == RequestState::PendingApproval,
            sponsor_may_approve: page.sponsor_may_approve,
            sponsor_barred: page.sponsor_barred,
            record: page.record,
            id: a.id,
            agent_id: a.agent_id,
            agent_name: a.agent_name,
            sponsor: a.sponsor,
            stage: a.stage,
            capability: a.capability,
            capability_known: a.capability_known,
            triggers: a.triggers,
            target: a.target,
            summary: a.summary,
            params: a.params,
            edited_params: a.edited_params,
            correction: a.correction,
            observation: a.observation,
            decision: a.decision,
            reasons: a.reasons,
            policy_version: a.policy_version,
            held_for: a.held_for,
            approvals_required: a.approvals_required,
            approved_by: a.approved_by,
            state: a.state,
            created_at: rfc3339(a.created_at_ms),
            expires_at: a.expires_at_ms.map(rfc3339),
            decided_at: a.decided_at_ms.map(rfc3339),
            decided_by: a.decided_by,
            decision_note: a.decision_note,
            payload_hash: a.payload_hash,
            claim_by: a.claim_by_ms.map(rfc3339),
            claimed_at: a.claimed_at_ms.map(rfc3339),
            outcome_at: a.outcome_at_ms.map(rfc3339),
            outcome_detail: a.outcome_detail,
            incident: a.incident,
            evidence,
        }
    }
}
