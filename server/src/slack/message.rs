//! What a request's Slack message shows (Block Kit): its summary, risk,
//! agent and stage, a link to the request page (evidence is looked at
//! there, never inlined), and while it waits, Approve / Reject buttons
//! whose values carry the request id and the payload hash shown.
//!
//! The agent writes the summary, target and params: they go out as
//! `plain_text` or escaped, so they cannot mention people or make links.

use app::actions::model::{ActionDetail, RequestState};
use serde_json::{json, Value};

/// What the message shows that can change; the same fingerprint, no update.
pub fn fingerprint(a: &ActionDetail) -> String {
    format!(
        "{}|{}|{}",
        a.state.as_str(),
        a.payload_hash,
        a.approved_by.join(",")
    )
}

/// `&`, `<` and `>` escaped, as Slack's mrkdwn asks.
fn escape(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
}

fn clip(s: &str, max: usize) -> String {
    if s.chars().count() <= max {
        s.to_string()
    } else {
        s.chars().take(max - 1).chain(['…']).collect()
    }
}

/// Where the request stands, in a line.
fn headline(a: &ActionDetail) -> String {
    let by = |name: &Option<String>| name.as_deref().map(escape).unwrap_or_default();
    match a.state {
        RequestState::PendingApproval => "Waiting for approval".into(),
        RequestState::Approved
        | RequestState::Executing
        | RequestState::Succeeded
        | RequestState::Failed => {
            format!(
                "Approved by {} ({})",
                escape(&a.approved_by.join(", ")),
                a.state.label()
            )
        }
        RequestState::Rejected => format!("Rejected by {}", by(&a.decided_by)),
        RequestState::Expired => "Expired without a decision (expiry means no)".into(),
        RequestState::Cancelled => "Cancelled".into(),
        other => other.label().to_string(),
    }
}

/// The notification text (and what screen readers and old clients show).
pub fn text(a: &ActionDetail) -> String {
    format!(
        "{}: {} by {} ({})",
        headline(a),
        a.capability,
        a.agent_name,
        clip(&a.summary, 200)
    )
}

pub fn blocks(a: &ActionDetail, link: &str) -> Value {
    let field = |label: &str, value: &str| json!({ "type": "mrkdwn", "text": format!("*{label}*\n{}", escape(&clip(value, 300))) });
    let risk: Vec<&str> = a.held_for.iter().map(|k| k.as_str()).collect();
    let risk = if a.capability_known {
        risk.join(", ")
    } else {
        format!("unknown capability (high risk); {}", risk.join(", "))
    };
    let mut blocks = vec![
        json!({ "type": "section", "text": { "type": "mrkdwn", "text": format!("*{}*", headline(a)) } }),
        json!({ "type": "section", "text": { "type": "plain_text", "text": clip(&a.summary, 2900), "emoji": false } }),
        json!({ "type": "section", "fields": [
            field("Agent", &a.agent_name),
            field("Stage", a.stage.as_str()),
            field("Capability", &a.capability),
            field("Target", &a.target),
            field("Held for", &risk),
            field("Approvals", &format!("{} of {}", a.approved_by.len(), a.approvals_required)),
        ]}),
        json!({ "type": "context", "elements": [{ "type": "mrkdwn", "text": format!(
            "<{link}|Open the request in Belay> · {} evidence item(s), shown there",
            a.evidence.len()
        )}]}),
    ];
    if a.state == RequestState::PendingApproval {
        let value = format!("{}:{}", a.id, a.payload_hash);
        blocks.push(
            json!({ "type": "actions", "block_id": "belay_decision", "elements": [
                { "type": "button", "action_id": "belay_approve", "style": "primary",
                  "text": { "type": "plain_text", "text": "Approve" }, "value": value },
                { "type": "button", "action_id": "belay_reject", "style": "danger",
                  "text": { "type": "plain_text", "text": "Reject" }, "value": value },
            ]}),
        );
    } else if let Some(note) = a.decision_note.as_deref().filter(|n| !n.is_empty()) {
        blocks.push(json!({ "type": "context", "elements": [{ "type": "plain_text", "text": clip(note, 2000), "emoji": false }] }));
    }
    Value::Array(blocks)
}
