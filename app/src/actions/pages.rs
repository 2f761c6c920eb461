use super::*;
use crate::local_time::LocalTime;
use crate::ui::{ErrorNote, StageBadge, TriggerList};
use leptos_router::hooks::use_params_map;

#[component]
pub fn ActionPage() -> impl IntoView {
    let params = use_params_map();
    let id = move || params.read().get("id").unwrap_or_default();
    let approve = ServerAction::<ApproveAction>::new();
    let reject = ServerAction::<RejectAction>::new();
    let detail = Resource::new(
        move || (id(), approve.version().get(), reject.version().get()),
        |(id, _, _)| get_action(id),
    );
    // Shown above the request: after a failed decision the page re-reads the
    // request, which may now show someone else's decision instead of the buttons.
    let decide_error = move || {
        [approve.value().get(), reject.value().get()]
            .into_iter()
            .flatten()
            .find_map(Result::err)
    };
    view! {
        <p><a href="/approvals">"← Approval queue"</a></p>
        {move || decide_error().map(|e| view! { <ErrorNote error=e/> })}
        <Transition fallback=|| view! { <p class="muted">"Loading the request…"</p> }>
            {move || Suspend::new(async move {
                match detail.await {
                    Ok(data) => view! { <ActionView data approve reject/> }.into_any(),
                    Err(e) => view! { <ErrorNote error=e/> }.into_any(),
                }
            })}
        </Transition>
    }
}

#[component]
fn ActionView(
    data: ActionPageData,
    approve: ServerAction<ApproveAction>,
    reject: ServerAction<RejectAction>,
) -> impl IntoView {
    let ActionPageData {
        action: a,
        can_decide,
        sponsor_may_approve,
        sponsor_barred,
        record,
    } = data;
    let params = serde_json::to_string_pretty(&a.params).unwrap_or_default();
    let edited = a
        .edited_params
        .as_ref()
        .map(|p| serde_json::to_string_pretty(p).unwrap_or_default());
    let pending = a.state == RequestState::PendingApproval;
    view! {
        <h1>
            <code>{a.capability.clone()}</code>
            " "
            <StateBadge state=a.state/>
        </h1>
        <p class="summary">{a.summary.clone()}</p>
        <dl class="facts">
            <dt>"Agent"</dt>
            <dd>
                <a href=format!("/agents/{}", a.agent_id)>{a.agent_name.clone()}</a>
                " "
                <StageBadge stage=a.stage/>
            </dd>
            <dt>"Target"</dt><dd>{a.target.clone()}</dd>
            <dt>"Risk"</dt><dd><TriggerList triggers=a.triggers.clone() known=a.capability_known/></dd>
            <dt>"Submitted"</dt><dd data-testid="submitted"><LocalTime ms=a.created_at_ms ago=true/></dd>
            {a.expires_at_ms.map(|t| view! { <dt>"Expires"</dt><dd><LocalTime ms=t/></dd> })}
            {(a.approvals_required > 0).then(|| {
                let who = if a.approved_by.is_empty() {
                    String::new()
                } else {
                    format!(" ({})", a.approved_by.join(", "))
                };
                view! {
                    <dt>"Approvals"</dt>
                    <dd data-testid="approvals">
                        {format!("{} of {} distinct reviewers{who}", a.approved_by.len(), a.approvals_required)}
                    </dd>
                }
            })}
            {a.sponsor.clone().map(|s| view! {
                <dt>"Sponsor"</dt>
                <dd>{s}{(!sponsor_may_approve).then_some(" (sponsors never approve their own agents' requests; no rule that held this one allows it)")}</dd>
            })}
            <dt>"Record"</dt>
            <dd data-testid="record"><RecordLine record capability=a.capability.clone()/></dd>
            {a.carried_out_by().map(|by| view! {
                <dt>"Carried out by"</dt>
                <dd data-testid="carried-out-by">
                    {if by == "human" {
                        "a human, once approved: the agent is at propose and can never execute it"
                    } else {
                        "the agent, once allowed or approved"
                    }}
                </dd>
            })}
        </dl>
        <section class="card why">
            <h2>
                {if a.decision == crate::policy::Outcome::PendingApproval {
                    "Why it paused"
                } else {
                    "Why Belay decided this"
                }}
            </h2>
            <ul class="reasons">
                {a.reasons.iter().map(|r| view! { <li>{r.clone()}</li> }).collect_view()}
            </ul>
            <p class="muted small">{format!("Decision: {} under policy v{}", a.decision.as_str(), a.policy_version)}</p>
        </section>
        <section class="card">
            <h2>"Parameters"</h2>
            {match (edited.clone(), a.correction.clone()) {
                (Some(e), correction) => view! {
                    <p class="muted small">"Edited by a reviewer; the agent carries out the edited version."</p>
                    <div class="side-by-side">
                        <div><h3>"Submitted"</h3><pre class="params">{params.clone()}</pre></div>
                        <div><h3>"As approved"</h3><pre class="params" data-testid="edited-params">{e}</pre></div>
                    </div>
                    {correction.map(|c| view! { <p class="small">"Correction: " <code>{c.to_string()}</code></p> })}
                }.into_any(),
                (None, _) => view! { <pre class="params">{params.clone()}</pre> }.into_any(),
            }}
            {a.observation.clone().map(|o| view! { <h3>"Observation"</h3><p>{o}</p> })}
        </section>
        <crate::runs::RunSoFarPanel action_id=a.id.clone()/>
        <section class="card" id="evidence">
            <h2>"Evidence"</h2>
            <crate::evidence::EvidenceViewer evidence=a.evidence.clone()/>
        </section>
        {if pending && can_decide {
            let current = serde_json::to_string_pretty(a.approved_params()).unwrap_or_default();
            view! {
                <DecidePanel id=a.id.clone() seen=a.payload_hash.clone() params=current
                    can_approve=!sponsor_barred approve reject/>
            }
            .into_any()
        } else if pending {
            view! {
                <p class="muted">"Waiting for a reviewer. Your role may read requests but not decide them."</p>
            }
            .into_any()
        } else {
            view! { <Outcome action=a.clone()/> }.into_any()
        }}
    }
}

#[component]
fn Outcome(action: ActionDetail) -> impl IntoView {
    let who = action.decided_by.clone().unwrap_or_else(|| "Belay".into());
    let decided = action.decided_at_ms;
    // Each sentence holds at most one time: the text before it, the time
    // (drawn in the reader's zone), the text after it.
    let (before, at, after) = match action.state {
        RequestState::Approved => (format!("Approved by {who} at "), decided, ".".into()),
        RequestState::Rejected => (format!("Rejected by {who} at "), decided, ".".into()),
        RequestState::Expired => (
            "Expired unanswered at ".into(),
            decided,
            ": expiry means no.".into(),
        ),
        RequestState::Cancelled => ("Withdrawn by the agent at ".into(), decided, ".".into()),
        // Allowed and executing: claimed as it was decided (an MCP call
        // Belay's gateway carries out), the outcome not yet recorded.
        RequestState::Executing if action.decision == crate::policy::Outcome::Allowed => (
            "Allowed; Belay's MCP gateway claimed it at ".into(),
            action.claimed_at_ms,
            " and is carrying it out.".into(),
        ),
        RequestState::Executing => (
            format!("Approved by {who}; the agent claimed it at "),
            action.claimed_at_ms,
            " and is carrying it out.".into(),
        ),
        RequestState::Succeeded | RequestState::Failed => (
            format!(
                "{} by {who}; the agent reported it {} at ",
                if action.decision == crate::policy::Outcome::Allowed {
                    "Allowed"
                } else {
                    "Approved"
                },
                action.state.label(),
            ),
            action.outcome_at_ms,
            if action.incident {
                ", as an incident.".into()
            } else {
                ".".into()
            },
        ),
        other => (
            format!("This request is {}.", other.label()),
            None,
            String::new(),
        ),
    };
    let text = view! { {before} {at.map(|ms| view! { <LocalTime ms/> })} {after} };
    view! {
        <section class="card outcome" data-testid="outcome">
            <h2>"Decision"</h2>
            <p>{text}</p>
            {action.decision_note.map(|n| view! { <p>"Reason: " {n}</p> })}
            {action.outcome_detail.map(|d| view! { <p>"Agent's report: " {d}</p> })}
        </section>
    }
}

/// "12 approved (2 corrected), 1 rejected, 0 expired" for this capability.
#[component]
fn RecordLine(record: Record, capability: String) -> impl IntoView {
    let r = record;
    if r.total == 0 {
        return format!("first request for {capability}").into_any();
    }
    format!(
        "{} with {capability}: {} approved ({} corrected), {} rejected, {} expired, {} allowed outright, {} failed",
        r.total, r.approved, r.corrected, r.rejected, r.expired, r.allowed, r.failed
    )
    .into_any()
}

#[component]
fn DecidePanel(
    id: String,
    /// The payload hash this page shows: the decision binds to it.
    seen: String,
    /// The params as they stand, pretty-printed, to approve as is or edit.
    params: String,
    /// False when a rule bars this reviewer, the agent's sponsor, from approving.
    can_approve: bool,
    approve: ServerAction<ApproveAction>,
    reject: ServerAction<RejectAction>,
) -> impl IntoView {
    let busy = move || approve.pending().get() || reject.pending().get();
    let (reject_id, reject_seen) = (id.clone(), seen.clone());
    let editing = RwSignal::new(false);
    // `r` in the queue opens the page at #reject: put the cursor in the reason.
    Effect::new(move |_| {
        let hash = window().location().hash().unwrap_or_default();
        if hash == "#reject" {
            if let Some(el) = document().get_element_by_id("reject-reason") {
                use leptos::wasm_bindgen::JsCast;
                if let Ok(el) = el.dyn_into::<leptos::web_sys::HtmlElement>() {
                    let _ = el.focus();
                }
            }
        }
    });
    view! {
        <section class="card decide">
            <h2>"Decide"</h2>
            {(!can_approve).then(|| view! {
                <p class="muted" data-testid="sponsor-barred">
                    "You sponsor this agent: sponsors never approve their own agents' requests, unless every "
                    "rule that held the request allows it (Policy: Sponsor may approve). Another reviewer "
                    "approves; you may still reject it."
                </p>
            })}
            {can_approve.then(|| view! {
            <ActionForm action=approve attr:class="form">
                <input type="hidden" name="id" value=id/>
                <input type="hidden" name="seen" value=seen/>
                <Show when=move || editing.get()>
                    <label>
                        "Params to approve (JSON; your change is recorded as a correction)"
                        <textarea name="params" rows="8" class="mono" data-testid="edit-params">{params.clone()}</textarea>
                    </label>
                </Show>
                <div class="inline">
                    <button type="submit" class="approve" disabled=busy>
                        {move || match (approve.pending().get(), editing.get()) {
                            (true, _) => "Approving…",
                            (false, true) => "Approve with edits",
                            (false, false) => "Approve",
                        }}
                    </button>
                    <button type="button" class="secondary" on:click=move |_| editing.update(|e| *e = !*e)>
                        {move || if editing.get() { "Cancel edits" } else { "Edit params…" }}
                    </button>
                </div>
            </ActionForm>
            })}
            <ActionForm action=reject attr:class="form" attr:id="reject">
                <input type="hidden" name="id" value=reject_id/>
                <input type="hidden" name="seen" value=reject_seen/>
                <label>
                    "Reason for rejecting (required)"
                    <textarea name="reason" id="reject-reason" required rows="2"></textarea>
                </label>
                <button type="submit" class="danger" disabled=busy>
                    {move || if reject.pending().get() { "Rejecting…" } else { "Reject" }}
                </button>
            </ActionForm>
        </section>
    }
}

/// Where a request is, as a badge.
#[component]
pub fn StateBadge(state: RequestState) -> impl IntoView {
    view! { <span class=format!("badge state state-{}", state.as_str()) data-testid="state">{state.label()}</span> }
}
