//! The event types an endpoint may subscribe to, and which audited change
//! each one stands for. Names are the product's words, not the audit's:
//! a held request is `action.held` (the audit says `action.submitted`, in
//! state `pending_approval`).

use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum EventType {
    ActionHeld,
    ActionDecided,
    ActionExpired,
    ActionClaimed,
    ActionOutcome,
    AgentDemoted,
    AgentSuspended,
    AgentPromoted,
    ReviewOpened,
    ReviewDecided,
    ChangeOpened,
    ChangeDecided,
    NoticeRaised,
}

impl EventType {
    pub const ALL: [EventType; 13] = [
        EventType::ActionHeld,
        EventType::ActionDecided,
        EventType::ActionExpired,
        EventType::ActionClaimed,
        EventType::ActionOutcome,
        EventType::AgentDemoted,
        EventType::AgentSuspended,
        EventType::AgentPromoted,
        EventType::ReviewOpened,
        EventType::ReviewDecided,
        EventType::ChangeOpened,
        EventType::ChangeDecided,
        EventType::NoticeRaised,
    ];

    /// The `type` a receiver sees.
    pub fn as_str(self) -> &'static str {
        match self {
            EventType::ActionHeld => "action.held",
            EventType::ActionDecided => "action.decided",
            EventType::ActionExpired => "action.expired",
            EventType::ActionClaimed => "action.claimed",
            EventType::ActionOutcome => "action.outcome_reported",
            EventType::AgentDemoted => "agent.demoted",
            EventType::AgentSuspended => "agent.suspended",
            EventType::AgentPromoted => "agent.promoted",
            EventType::ReviewOpened => "review.opened",
            EventType::ReviewDecided => "review.decided",
            EventType::ChangeOpened => "change_request.opened",
            EventType::ChangeDecided => "change_request.decided",
            EventType::NoticeRaised => "notice.raised",
        }
    }

    pub fn describe(self) -> &'static str {
        match self {
            EventType::ActionHeld => "a request is held for approval",
            EventType::ActionDecided => "a held request is approved or rejected",
            EventType::ActionExpired => "a request or an unclaimed approval expires",
            EventType::ActionClaimed => "an agent claims an approved request",
            EventType::ActionOutcome => "an agent reports an outcome (incidents flagged)",
            EventType::AgentDemoted => "an agent or one of its capabilities is demoted",
            EventType::AgentSuspended => "an agent is suspended",
            EventType::AgentPromoted => "an agent is promoted or reinstated",
            EventType::ReviewOpened => "a promotion review is opened",
            EventType::ReviewDecided => "a promotion review is decided or closed",
            EventType::ChangeOpened => "a change request is opened",
            EventType::ChangeDecided => "a change request is decided or closed",
            EventType::NoticeRaised => "a notice is raised for the leads",
        }
    }

    pub fn parse(s: &str) -> Option<EventType> {
        EventType::ALL.into_iter().find(|t| t.as_str() == s)
    }

    /// Its bit in a subscription mask (see `outbox.rs`).
    pub fn bit(self) -> u32 {
        1 << (self as u32)
    }

    /// The event type an audited change may stand for, from its `what`
    /// alone; `needs_detail` says whether its detail still decides it
    /// (see `confirm`).
    #[cfg(feature = "ssr")]
    pub(super) fn of_what(what: &str) -> Option<(EventType, bool)> {
        Some(match what {
            "action.submitted" => (EventType::ActionHeld, true),
            "action.approved" | "action.rejected" => (EventType::ActionDecided, false),
            "action.expired" | "action.approval_expired" => (EventType::ActionExpired, false),
            "action.claimed" => (EventType::ActionClaimed, false),
            "action.succeeded" | "action.failed" => (EventType::ActionOutcome, false),
            "agent.demoted" | "scope.demoted" => (EventType::AgentDemoted, false),
            "agent.suspended" => (EventType::AgentSuspended, false),
            "agent.promoted" | "agent.reinstated" | "scope.promoted" => {
                (EventType::AgentPromoted, false)
            }
            "promotion.opened" => (EventType::ReviewOpened, false),
            "change.proposed" => (EventType::ChangeOpened, false),
            // A vote that leaves the request open is no decision.
            "promotion.approved" | "promotion.rejected" => (EventType::ReviewDecided, true),
            "promotion.withdrawn" | "promotion.stale" => (EventType::ReviewDecided, false),
            "change.approved" | "change.rejected" => (EventType::ChangeDecided, true),
            "change.withdrawn" | "change.stale" => (EventType::ChangeDecided, false),
            _ => return None,
        })
    }

    /// Whether the detail of a change `of_what` was unsure of makes it
    /// this event: a submission held for people, a vote that closed.
    #[cfg(feature = "ssr")]
    pub(super) fn confirm(self, detail: &serde_json::Value) -> bool {
        let state = detail["after"]["state"].as_str();
        match self {
            EventType::ActionHeld => state == Some("pending_approval"),
            _ => state.is_some_and(|s| s != "open"),
        }
    }
}

/// The subscribed types as stored: comma-separated names.
pub fn join(types: &[EventType]) -> String {
    types
        .iter()
        .map(|t| t.as_str())
        .collect::<Vec<_>>()
        .join(",")
}

/// Stored names back; a name this build does not know is skipped.
pub fn split(stored: &str) -> Vec<EventType> {
    stored.split(',').filter_map(EventType::parse).collect()
}

#[cfg(all(test, feature = "ssr"))]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn names_round_trip_and_bits_are_distinct() {
        let mut seen = 0u32;
        for t in EventType::ALL {
            assert_eq!(EventType::parse(t.as_str()), Some(t));
            assert_eq!(seen & t.bit(), 0);
            seen |= t.bit();
        }
        assert_eq!(split(&join(&EventType::ALL)), EventType::ALL.to_vec());
        assert_eq!(split("action.held,nonsense"), vec![EventType::ActionHeld]);
    }

    #[test]
    fn only_held_submissions_and_closing_votes_count() {
        let (held, unsure) = EventType::of_what("action.submitted").unwrap();
        assert!(unsure);
        assert!(held.confirm(&json!({"after": {"state": "pending_approval"}})));
        assert!(!held.confirm(&json!({"after": {"state": "allowed"}})));
        let (vote, unsure) = EventType::of_what("change.approved").unwrap();
        assert!(unsure);
        assert!(!vote.confirm(&json!({"after": {"state": "open"}})));
        assert!(vote.confirm(&json!({"after": {"state": "approved"}})));
        assert_eq!(EventType::of_what("user.signed_in"), None);
        assert_eq!(EventType::of_what("action.approval_added"), None);
    }
}
