//! One `tools/call`, as an action request: submitted through the same
//! writer as the REST API, held while people decide, then claimed once and
//! forwarded upstream with exactly the approved arguments, its outcome
//! reported. Nothing that was not allowed or approved reaches the upstream.

use super::hold::Hold;
use super::join::{self, InFlight, CALL_EVIDENCE};
use super::upstreams::Upstreams;
use super::Caller;
use crate::api::quota::Quotas;
use app::actions::commit::Committer;
use app::actions::model::{ActionDetail, RequestState};
use app::actions::submission::{Submission, SubmitRequest};
use app::actions::{claim, execute, service};
use app::error::AppError;
use app::evidence::parse::EvidenceRequest;
use app::mcp::store::{Tool, Upstream};
use app::quota::limits::Kind;
use app::state::AppState;
use rmcp::model::{CallToolResult, ContentBlock, JsonObject};
use std::sync::Arc;
use std::time::Duration;
use tracing::Instrument;

/// What every call needs: the rule book's writer, the upstream processes,
/// and how long a call is held for a decision.
#[derive(Clone)]
pub struct Gate {
    pub state: AppState,
    pub writer: Committer,
    /// Submissions a minute per agent, shared with the REST API.
    pub quotas: Arc<Quotas>,
    pub upstreams: Arc<Upstreams>,
    /// Each agent's upstreams, kept between calls.
    pub known: Arc<super::known::Known>,
    /// Identical calls in flight, so concurrent ones make one request.
    pub in_flight: Arc<InFlight>,
    pub wait: Duration,
}

/// The call, decided and (if allowed or approved) carried out. Refusals
/// are tool errors the agent reads, never protocol errors.
#[tracing::instrument(skip_all, fields(agent = %caller.agent.name, upstream = %up.name, tool = %tool.tool))]
pub async fn call(
    g: &Gate,
    caller: &Caller,
    (up, tool): (&Upstream, &Tool),
    (arguments, sent): (JsonObject, serde_json::Value),
    hold: Hold,
) -> CallToolResult {
    match run(g, caller, up, tool, (arguments, sent), hold).await {
        Ok(result) => result,
        Err(e) => error(format!("Belay refused the call: {}", message(&e))),
    }
}

async fn run(
    g: &Gate,
    caller: &Caller,
    up: &Upstream,
    tool: &Tool,
    (arguments, sent): (JsonObject, serde_json::Value),
    hold: Hold,
) -> Result<CallToolResult, AppError> {
    // What the client sent is the evidence, checked and counted against
    // the agent's evidence quota like any other (JSON, never rendered).
    let evidence = EvidenceRequest {
        kind: CALL_EVIDENCE.into(),
        media_type: Some("application/json".into()),
        content: Some(sent),
        content_base64: None,
    };
    let submission = Submission::parse(SubmitRequest {
        capability: tool.capability.clone(),
        target: up.name.clone(),
        summary: format!("{} via {}", tool.tool, up.name),
        params: Some(serde_json::Value::Object(arguments)),
        evidence: vec![evidence],
        observation: None,
        run_id: None,
    })?;
    let agent = &caller.agent;
    let own = crate::api::agent_auth::own_quotas(&g.state, &agent.agent_id).await?;
    let limits = g.state.settings.quotas.for_agent(&own);
    let door = join::Door {
        state: &g.state,
        writer: &g.writer,
        quotas: &g.quotas,
        in_flight: &g.in_flight,
    };
    let (mut action, fresh) = join::join_or_submit(door, caller, submission, &limits)
        .instrument(tracing::debug_span!("mcp.join"))
        .await?;
    if action.state == RequestState::PendingApproval {
        // A held call holds a connection, as a long-poll does, and counts as one.
        let limit = limits.get(Kind::LongPolls);
        if let Some(_open) = g.state.quota.long_poll(&agent.agent_id, limit) {
            let link = format!("/approvals/{}", action.id);
            hold.notify(format!(
                "Belay holds this call for a person's approval ({link})"
            ))
            .await;
            action = service::wait_for_agent(&g.state, agent, &action.id, g.wait).await?;
        }
    }
    finish(g, caller, up, tool, (action, fresh)).await
}

/// What becomes of the call, by its request's state. `fresh`: this call
/// made the request, so an allowed one (claimed as it was decided) is its
/// own to carry out; a joined request is never allowed or executing.
async fn finish(
    g: &Gate,
    caller: &Caller,
    up: &Upstream,
    tool: &Tool,
    (action, fresh): (ActionDetail, bool),
) -> Result<CallToolResult, AppError> {
    let id = &action.id;
    let link = format!("/approvals/{id}");
    let reasons = action.reasons.join("; ");
    Ok(match action.state {
        RequestState::Allowed | RequestState::Executing if fresh => {
            carry_out(g, caller, up, tool, action).await
        }
        RequestState::Approved => match action.carried_out_by() {
            Some("agent") => carry_out(g, caller, up, tool, action).await,
            _ => CallToolResult::success(vec![ContentBlock::text(format!(
                "Belay: approved ({link}); at this agent's stage a human carries it out, so Belay did not call {}.",
                up.name
            ))]),
        },
        RequestState::PendingApproval => error(format!(
            "Belay: this call awaits human approval ({link}). Call it again with the same arguments to keep waiting on the same request. Why it was held: {reasons}"
        )),
        RequestState::Drafted => CallToolResult::success(vec![ContentBlock::text(format!(
            "Belay: recorded as a draft for humans ({link}); it was not carried out. {reasons}"
        ))]),
        RequestState::Denied => error(format!("Belay denied this call ({link}): {reasons}")),
        RequestState::Rejected => error(format!(
            "Belay: a reviewer{} rejected this call ({link}): {}",
            by(&action),
            action.decision_note.as_deref().unwrap_or("no reason given")
        )),
        RequestState::Expired if action.claim_by_ms.is_some() => error(format!(
            "Belay: the approval expired before the call was carried out ({link}); call again to ask anew"
        )),
        RequestState::Expired => error(format!(
            "Belay: nobody approved this call in time, so it expired ({link}); expiry means no"
        )),
        RequestState::Cancelled => error(format!("Belay: this call was cancelled ({link})")),
        RequestState::Allowed
        | RequestState::Executing
        | RequestState::Succeeded
        | RequestState::Failed => error(
            format!("Belay: this call was already carried out ({link}); an approval runs once"),
        ),
    })
}

/// Claims (if approved) and forwards the request in a task of its own:
/// the wait for a decision ends with the caller, but once claimed, the
/// call reaches the upstream and its outcome is reported even if the
/// client has hung up meanwhile.
async fn carry_out(
    g: &Gate,
    caller: &Caller,
    up: &Upstream,
    tool: &Tool,
    action: ActionDetail,
) -> CallToolResult {
    let (g, caller, up, tool) = (g.clone(), caller.clone(), up.clone(), tool.clone());
    let done = tokio::spawn(async move {
        let action = if action.state == RequestState::Approved {
            match claim::claim(&g.state, &caller.agent, &action.id).await {
                Ok(claimed) => claimed,
                Err(e) => return error(format!("Belay refused the call: {}", message(&e))),
            }
        } else {
            action
        };
        forward(&g, &caller, &up, &tool, &action).await
    })
    .await;
    done.unwrap_or_else(|e| {
        tracing::error!(error = %e, "an MCP call failed while it was carried out");
        error("Belay could not finish the call; the error was logged".into())
    })
}

/// Carries out an allowed or claimed request with exactly the params it
/// may run with, and reports the outcome.
async fn forward(
    g: &Gate,
    caller: &Caller,
    up: &Upstream,
    tool: &Tool,
    action: &ActionDetail,
) -> CallToolResult {
    let arguments = match action.approved_params() {
        serde_json::Value::Object(m) => m.clone(),
        _ => JsonObject::new(),
    };
    tracing::info!(action_id = %action.id, "calling the upstream");
    let result = g
        .upstreams
        .call(&up.id, &up.endpoint, &tool.tool, arguments)
        .instrument(tracing::debug_span!("mcp.upstream"))
        .await;
    let (succeeded, details) = match &result {
        Ok(r) if r.is_error != Some(true) => (true, format!("{} returned a result", tool.tool)),
        Ok(r) => (
            false,
            format!("{} returned an error: {}", tool.tool, text_of(r)),
        ),
        Err(e) => (false, e.clone()),
    };
    let report = execute::Report {
        succeeded,
        details: Some(clean(&details)),
        incident: false,
        evidence: vec![],
    };
    // The outcome is recorded after the agent has its answer, unflushed:
    // the claim, durable before the call went upstream, is what keeps a
    // call from running twice or unrecorded; a second flush here would
    // only delay this answer and the next decision. Should Belay stop in
    // between, the request stays `executing`: carried out (or about to
    // be), its outcome unknown.
    let (state, agent, id) = (g.state.clone(), caller.agent.clone(), action.id.clone());
    tokio::spawn(
        async move {
            if let Err(e) = execute::outcome_unflushed(&state, &agent, &id, report).await {
                tracing::warn!(action_id = %id, error = %e, "could not record the MCP call's outcome");
            }
        }
        .instrument(tracing::debug_span!("mcp.outcome")),
    );
    match result {
        Ok(mut r) => {
            if let Some(note) = correction_note(action) {
                r.content.insert(0, ContentBlock::text(note));
            }
            r
        }
        Err(e) => error(format!(
            "Belay allowed the call (/approvals/{}), but {e}",
            action.id
        )),
    }
}

/// What the reviewer changed, for the agent to read before the result.
fn correction_note(a: &ActionDetail) -> Option<String> {
    let changes = a.correction.as_ref()?.as_object()?;
    let list: Vec<String> = changes
        .iter()
        .map(|(k, v)| format!("{k}: {} → {}", shown(&v["before"]), shown(&v["after"])))
        .collect();
    Some(format!(
        "Belay: a reviewer{} approved this call with changes, and the tool ran with the approved arguments: {}.",
        by(a),
        list.join("; ")
    ))
}

fn shown(v: &serde_json::Value) -> String {
    if v.is_null() {
        "(none)".into()
    } else {
        v.to_string()
    }
}

fn by(a: &ActionDetail) -> String {
    a.decided_by
        .as_deref()
        .map(|u| format!(" ({u})"))
        .unwrap_or_default()
}

fn text_of(r: &CallToolResult) -> String {
    r.content
        .iter()
        .filter_map(|c| c.as_text().map(|t| t.text.as_str()))
        .collect::<Vec<_>>()
        .join("\n")
}

/// Printable, bounded text for the outcome's details.
fn clean(s: &str) -> String {
    let kept: String = s
        .chars()
        .filter(|c| !c.is_control() || matches!(c, '\n' | '\t'))
        .take(2000)
        .collect();
    if kept.trim().is_empty() {
        "no details".into()
    } else {
        kept
    }
}

fn error(text: String) -> CallToolResult {
    CallToolResult::error(vec![ContentBlock::text(text)])
}

fn message(e: &AppError) -> String {
    match e {
        AppError::Internal => "an internal error; it was logged".into(),
        other => other.to_string(),
    }
}
