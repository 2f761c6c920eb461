use super::model::age;
use super::*;
use crate::clock;
use crate::ui::{ErrorNote, StageBadge, StateBadge, TriggerList};
use leptos_router::hooks::use_params_map;

#[component]
pub fn ApprovalsPage() -> impl IntoView {
    let refresh = RwSignal::new(0u32);
    let queue = Resource::new(move || refresh.get(), |_| pending_actions());
    view! {
        <div class="heading">
            <h1>"Approval queue"</h1>
            <button class="secondary" on:click=move |_| refresh.update(|n| *n += 1)>"Refresh"</button>
        </div>
        <Transition fallback=|| view! { <p class="muted">"Loading the queue…"</p> }>
            {move || Suspend::new(async move {
                match queue.await {
                    Ok((rows, _)) if rows.is_empty() => {
                        view! { <p class="muted">"Nothing is waiting for approval."</p> }.into_any()
                    }
                    Ok((rows, now)) => view! { <QueueTable rows now/> }.into_any(),
                    Err(e) => view! { <ErrorNote error=e/> }.into_any(),
                }
            })}
        </Transition>
    }
}

#[component]
fn QueueTable(rows: Vec<QueueRow>, now: i64) -> impl IntoView {
    view! {
        <p class="muted">
            {if rows.len() >= service_limit() {
                format!("Showing the newest {} waiting requests", rows.len())
            } else {
                format!("{} waiting, newest first", rows.len())
            }}
        </p>
        <table class="table queue">
            <thead>
                <tr>
                    <th>"Action"</th>
                    <th>"Agent"</th>
                    <th>"Held for"</th>
                    <th>"Approvals"</th>
                    <th>"Target"</th>
                    <th>"Waiting"</th>
                </tr>
            </thead>
            <tbody>
                {rows
                    .into_iter()
                    .map(|r| {
                        view! {
                            <tr>
                                <td>
                                    <a href=format!("/approvals/{}", r.id)>
                                        <code>{r.capability}</code>
                                    </a>
                                    <div class="small">{r.summary}</div>
                                </td>
                                <td>{r.agent_name}</td>
                                <td><HeldFor keys=r.held_for triggers=r.triggers known=r.capability_known/></td>
                                <td class="small">{format!("{} of {}", r.approvals, r.approvals_required)}</td>
                                <td class="small">{r.target}</td>
                                <td class="small">{age(r.created_at_ms, now)}</td>
                            </tr>
                        }
                    })
                    .collect_view()}
            </tbody>
        </table>
    }
}

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
                    Ok((a, can_decide)) => {
                        view! { <ActionView action=a can_decide approve reject/> }.into_any()
                    }
                    Err(e) => view! { <ErrorNote error=e/> }.into_any(),
                }
            })}
        </Transition>
    }
}

#[component]
fn ActionView(
    action: ActionDetail,
    can_decide: bool,
    approve: ServerAction<ApproveAction>,
    reject: ServerAction<RejectAction>,
) -> impl IntoView {
    let a = action;
    let params = serde_json::to_string_pretty(&a.params).unwrap_or_default();
    let pending = a.state == State::PendingApproval;
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
            <dt>"Submitted"</dt><dd>{clock::display(a.created_at_ms)}</dd>
            {a.expires_at_ms.map(|t| view! { <dt>"Expires"</dt><dd>{clock::display(t)}</dd> })}
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
            <pre class="params">{params}</pre>
            {a.observation.clone().map(|o| view! { <h3>"Observation"</h3><p>{o}</p> })}
        </section>
        <section class="card">
            <h2>"Evidence"</h2>
            {if a.evidence.is_empty() {
                view! { <p class="muted">"No evidence attached."</p> }.into_any()
            } else {
                view! {
                    <table class="table">
                        <thead><tr><th>"Type"</th><th>"Media type"</th><th>"Size"</th><th>"SHA-256"</th></tr></thead>
                        <tbody>
                            {a.evidence.iter().map(|e| view! {
                                <tr>
                                    <td>{e.kind.clone()}</td>
                                    <td><code>{e.media_type.clone()}</code></td>
                                    <td>{human_size(e.size_bytes)}</td>
                                    <td><code class="small">{e.sha256[..16.min(e.sha256.len())].to_string()}"…"</code></td>
                                </tr>
                            }).collect_view()}
                        </tbody>
                    </table>
                }.into_any()
            }}
        </section>
        {if pending && can_decide {
            view! { <DecidePanel id=a.id.clone() approve reject/> }.into_any()
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
    let when = action.decided_at_ms.map(clock::display).unwrap_or_default();
    let text = match action.state {
        State::Approved => format!("Approved by {who} at {when}."),
        State::Rejected => format!("Rejected by {who} at {when}."),
        State::Expired => format!("Expired unanswered at {when}: expiry means no."),
        State::Cancelled => format!("Withdrawn by the agent at {when}."),
        other => format!("This request is {}.", other.label()),
    };
    view! {
        <section class="card outcome" data-testid="outcome">
            <h2>"Decision"</h2>
            <p>{text}</p>
            {action.decision_note.map(|n| view! { <p>"Reason: " {n}</p> })}
        </section>
    }
}

#[component]
fn DecidePanel(
    id: String,
    approve: ServerAction<ApproveAction>,
    reject: ServerAction<RejectAction>,
) -> impl IntoView {
    let busy = move || approve.pending().get() || reject.pending().get();
    let reject_id = id.clone();
    view! {
        <section class="card decide">
            <h2>"Decide"</h2>
            <ActionForm action=approve attr:class="form inline">
                <input type="hidden" name="id" value=id/>
                <button type="submit" class="approve" disabled=busy>
                    {move || if approve.pending().get() { "Approving…" } else { "Approve" }}
                </button>
            </ActionForm>
            <ActionForm action=reject attr:class="form">
                <input type="hidden" name="id" value=reject_id/>
                <label>
                    "Reason for rejecting (required)"
                    <textarea name="reason" required rows="2"></textarea>
                </label>
                <button type="submit" class="danger" disabled=busy>
                    {move || if reject.pending().get() { "Rejecting…" } else { "Reject" }}
                </button>
            </ActionForm>
        </section>
    }
}

fn human_size(bytes: i64) -> String {
    match bytes {
        b if b < 1024 => format!("{b} B"),
        b if b < 1024 * 1024 => format!("{:.1} KiB", b as f64 / 1024.0),
        b => format!("{:.1} MiB", b as f64 / 1024.0 / 1024.0),
    }
}

/// The queue shows at most this many rows (see `service::pending`).
fn service_limit() -> usize {
    model::QUEUE_LIMIT
}

/// Why a queued request is held: the recorded reasons (triggers and
/// computed ones such as first use), or the catalog triggers for requests
/// recorded before reasons were kept.
#[component]
fn HeldFor(
    keys: Vec<crate::policy::RuleKey>,
    triggers: Vec<crate::policy::Trigger>,
    known: bool,
) -> impl IntoView {
    if keys.is_empty() {
        return view! { <TriggerList triggers known/> }.into_any();
    }
    keys.into_iter()
        .map(|k| view! { <span class="badge trigger">{k.as_str()}</span> " " })
        .collect_view()
        .into_any()
}
