use super::*;
use crate::actions::StateBadge;
use crate::change::{ProposedNote, ReasonField};
use crate::local_time::TimeText;
use crate::scope::GrantsPanel;
use crate::trust::{DemoteAgent, SuspendAgent};
use crate::ui::{ErrorNote, StageBadge};
use leptos_router::hooks::use_params_map;

#[component]
pub fn AgentsPage() -> impl IntoView {
    let create = ServerAction::<CreateAgent>::new();
    let agents = Resource::new(move || create.version().get(), |_| list_agents());
    // Only leads and admins get the sponsor list; for others the form stays hidden.
    let sponsors = Resource::new(|| (), |_| list_sponsors());
    view! {
        <h1>"Agents"</h1>
        <Transition fallback=|| view! { <p class="muted">"Loading agents…"</p> }>
            {move || Suspend::new(async move {
                match agents.await {
                    Ok(list) if list.is_empty() => {
                        view! { <p class="muted">"No agents yet."</p> }.into_any()
                    }
                    Ok(list) => view! { <AgentTable agents=list/> }.into_any(),
                    Err(e) => view! { <ErrorNote error=e/> }.into_any(),
                }
            })}
        </Transition>
        <Transition fallback=|| ()>
            {move || Suspend::new(async move {
                match sponsors.await {
                    Ok(Some(names)) => {
                        view! { <RegisterAgent action=create sponsors=names/> }.into_any()
                    }
                    Ok(None) => ().into_any(),
                    Err(e) => view! { <ErrorNote error=e/> }.into_any(),
                }
            })}
        </Transition>
    }
}

#[component]
fn AgentTable(agents: Vec<AgentRow>) -> impl IntoView {
    view! {
        <table class="table">
            <thead>
                <tr>
                    <th>"Name"</th>
                    <th>"Stage"</th>
                    <th>"Status"</th>
                    <th>"Sponsor"</th>
                    <th>"Active keys"</th>
                    <th>"Registered"</th>
                </tr>
            </thead>
            <tbody>
                {agents
                    .into_iter()
                    .map(|a| {
                        view! {
                            <tr>
                                <td>
                                    <a href=format!("/agents/{}", a.id)>{a.name}</a>
                                    <div class="muted small">{a.purpose}</div>
                                </td>
                                <td><StageBadge stage=a.stage/></td>
                                <td>{a.status}</td>
                                <td>{a.sponsor}</td>
                                <td>{a.active_keys}</td>
                                <td class="small"><TimeText text=a.created_at/></td>
                            </tr>
                        }
                    })
                    .collect_view()}
            </tbody>
        </table>
    }
}

#[component]
fn RegisterAgent(action: ServerAction<CreateAgent>, sponsors: Vec<String>) -> impl IntoView {
    let result = move || match action.value().get() {
        Some(Ok((agent, proposed))) => view! {
            <div role="status">
                <p class="success">
                    "Registered " <a href=format!("/agents/{}", agent.id)>{agent.name.clone()}</a>
                    {format!(" at {}. Open it to issue its first API key.", agent.stage)}
                </p>
                {proposed.map(|p| view! { <ProposedNote proposed=p/> })}
            </div>
        }
        .into_any(),
        Some(Err(e)) => view! { <ErrorNote error=e/> }.into_any(),
        None => ().into_any(),
    };
    view! {
        <section class="card">
            <h2>"Register an agent"</h2>
            <ActionForm action=action attr:class="form">
                <label>"Name" <input name="name" required placeholder="invoice-bot"/></label>
                <label>
                    "Purpose"
                    <textarea name="purpose" required rows="2"
                        placeholder="Reconcile supplier invoices against purchase orders"></textarea>
                </label>
                <label>
                    "Accountable sponsor"
                    <select name="sponsor" required>
                        {sponsors
                            .into_iter()
                            .map(|s| view! { <option value=s.clone()>{s.clone()}</option> })
                            .collect_view()}
                    </select>
                </label>
                <label>
                    "Trust stage"
                    <select name="stage">
                        {crate::policy::Stage::ALL
                            .into_iter()
                            .map(|s| {
                                view! {
                                    <option value=s.as_str() selected=s == Stage::Observe>
                                        {format!("{} {}", s.number(), s.as_str())}
                                    </option>
                                }
                            })
                            .collect_view()}
                    </select>
                </label>
                <p class="muted small">"Above propose, the agent starts at propose until another lead approves the stage."</p>
                <ReasonField/>
                <button type="submit" disabled=move || action.pending().get()>
                    {move || if action.pending().get() { "Registering…" } else { "Register agent" }}
                </button>
            </ActionForm>
            {result}
        </section>
    }
}

#[component]
pub fn AgentPage() -> impl IntoView {
    let params = use_params_map();
    let id = move || params.read().get("id").unwrap_or_default();
    let issue = ServerAction::<IssueKey>::new();
    let revoke = ServerAction::<RevokeKey>::new();
    let demote = ServerAction::<DemoteAgent>::new();
    let suspend = ServerAction::<SuspendAgent>::new();
    let detail = Resource::new(
        move || {
            (
                id(),
                issue.version().get(),
                revoke.version().get(),
                demote.version().get() + suspend.version().get(),
            )
        },
        |(id, _, _, _)| get_agent(id),
    );
    view! {
        <Transition fallback=|| view! { <p class="muted">"Loading agent…"</p> }>
            {move || Suspend::new(async move {
                match detail.await {
                    Ok(d) => view! { <AgentDetailView detail=d issue revoke demote suspend/> }.into_any(),
                    Err(e) => view! { <ErrorNote error=e/> }.into_any(),
                }
            })}
        </Transition>
    }
}

#[component]
fn AgentDetailView(
    detail: AgentDetail,
    issue: ServerAction<IssueKey>,
    revoke: ServerAction<RevokeKey>,
    demote: ServerAction<DemoteAgent>,
    suspend: ServerAction<SuspendAgent>,
) -> impl IntoView {
    let a = detail.agent;
    let agent_id = a.id.clone();
    let can_manage = detail.can_manage;
    view! {
        <p><a href="/agents">"← Agents"</a></p>
        <h1>{a.name.clone()} " " <StageBadge stage=a.stage/></h1>
        <dl class="facts">
            <dt>"Purpose"</dt><dd>{a.purpose.clone()}</dd>
            <dt>"Sponsor"</dt><dd>{a.sponsor.clone()}</dd>
            <dt>"Status"</dt><dd data-testid="agent-status">{a.status.clone()}</dd>
            <dt>"Registered"</dt><dd><TimeText text=a.created_at.clone()/></dd>
            <dt>"Agent id"</dt><dd><code>{a.id.clone()}</code></dd>
            <dt>"MCP tools"</dt><dd><a href=format!("/agents/{}/mcp", a.id)>"MCP upstreams"</a></dd>
        </dl>
        <section class="card">
            <h2>"API keys"</h2>
            {if detail.keys.is_empty() {
                view! { <p class="muted">"No keys yet."</p> }.into_any()
            } else {
                view! { <KeyTable keys=detail.keys revoke/> }.into_any()
            }}
            <ActionForm action=issue attr:class="form inline">
                <input type="hidden" name="agent_id" value=agent_id/>
                <label>
                    "Expires after (days, blank for never)"
                    <input name="expires_in_days" inputmode="numeric" size="6"/>
                </label>
                <button type="submit" disabled=move || issue.pending().get()>
                    {move || if issue.pending().get() { "Issuing…" } else { "Issue new key" }}
                </button>
            </ActionForm>
            {move || match issue.value().get() {
                Some(Ok(key)) => view! {
                    <div class="secret" role="status">
                        <p><strong>"Copy this key now: it will not be shown again."</strong></p>
                        <code class="key" data-testid="new-key">{key.secret}</code>
                    </div>
                }
                .into_any(),
                Some(Err(e)) => view! { <ErrorNote error=e/> }.into_any(),
                None => ().into_any(),
            }}
            {move || match revoke.value().get() {
                Some(Err(e)) => view! { <ErrorNote error=e/> }.into_any(),
                _ => ().into_any(),
            }}
        </section>
        {(can_manage && a.status == "active").then(|| view! {
            <LoseTrust agent_id=a.id.clone() stage=a.stage demote suspend/>
        })}
        {move || match suspend.value().get() {
            Some(Ok(done)) => view! {
                <p class="success" role="status">
                    {format!("Suspended: {} keys revoked, {} waiting or approved requests cancelled.", done.keys_revoked, done.requests_cancelled)}
                </p>
            }.into_any(),
            Some(Err(e)) => view! { <ErrorNote error=e/> }.into_any(),
            None => ().into_any(),
        }}
        <crate::trust::AgentRecord agent_id=a.id.clone() stage=a.stage suspended=a.status == "suspended"/>
        <GrantsPanel agent_id=a.id.clone() can_manage capabilities=detail.capabilities/>
        <crate::quota::QuotaPanel agent_id=a.id.clone()/>
        <crate::runs::AgentRunsPanel agent_id=a.id.clone()/>
        <RecentRequests rows=detail.recent/>
    }
}

/// Demote (lower the stage at once, with a reason) and the kill switch.
#[component]
fn LoseTrust(
    agent_id: String,
    stage: Stage,
    demote: ServerAction<DemoteAgent>,
    suspend: ServerAction<SuspendAgent>,
) -> impl IntoView {
    let lower: Vec<Stage> = Stage::ALL.into_iter().filter(|s| *s < stage).collect();
    let suspend_id = agent_id.clone();
    view! {
        <section class="card" aria-labelledby="lose-trust">
            <h2 id="lose-trust">"Lower trust"</h2>
            <p class="muted small">
                "Takes effect on the agent's next request; no review is needed to reduce trust. "
                "Suspending refuses everything the agent sends, disables all its API keys and cancels its requests that are waiting or approved but not yet carried out."
            </p>
            {(!lower.is_empty()).then(|| view! {
                <ActionForm action=demote attr:class="form inline">
                    <input type="hidden" name="agent_id" value=agent_id.clone()/>
                    <label>"Demote to"
                        <select name="stage">
                            {lower.iter().rev().map(|s| view! { <option value=s.as_str()>{s.as_str()}</option> }).collect_view()}
                        </select>
                    </label>
                    <label>"Reason" <input name="reason" required size="40"/></label>
                    <button type="submit" disabled=move || demote.pending().get()>"Demote"</button>
                </ActionForm>
            })}
            {move || demote.value().get().and_then(Result::err).map(|e| view! { <ErrorNote error=e/> })}
            <ActionForm action=suspend attr:class="form inline">
                <input type="hidden" name="agent_id" value=suspend_id/>
                <label>"Reason for suspending" <input name="reason" required size="40"/></label>
                <button type="submit" class="danger" disabled=move || suspend.pending().get()>
                    "Suspend (kill switch)"
                </button>
            </ActionForm>
        </section>
    }
}

/// Everything the agent asked lately, drafts and refusals included, so
/// humans see what an agent at `observe` or `draft` is doing.
#[component]
fn RecentRequests(rows: Vec<RecentRequest>) -> impl IntoView {
    view! {
        <section>
            <h2>"Recent requests"</h2>
            {if rows.is_empty() {
                view! { <p class="muted">"Nothing submitted yet."</p> }.into_any()
            } else {
                view! {
                    <table class="table" data-testid="recent">
                        <thead>
                            <tr><th>"When"</th><th>"Capability"</th><th>"Summary"</th><th>"State"</th></tr>
                        </thead>
                        <tbody>
                            {rows
                                .into_iter()
                                .map(|r| view! {
                                    <tr>
                                        <td class="small"><TimeText text=r.created_at/></td>
                                        <td><code>{r.capability}</code></td>
                                        <td><a href=format!("/approvals/{}", r.id)>{r.summary}</a></td>
                                        <td><StateBadge state=r.state/></td>
                                    </tr>
                                })
                                .collect_view()}
                        </tbody>
                    </table>
                }
                .into_any()
            }}
        </section>
    }
}

#[component]
fn KeyTable(keys: Vec<KeyRow>, revoke: ServerAction<RevokeKey>) -> impl IntoView {
    view! {
        <table class="table">
            <thead>
                <tr><th>"Key"</th><th>"Status"</th><th>"Issued"</th><th>"Expires"</th><th></th></tr>
            </thead>
            <tbody>
                {keys
                    .into_iter()
                    .map(|k| {
                        let active = k.status == "active";
                        view! {
                            <tr>
                                <td><code>{format!("{}…", k.prefix)}</code></td>
                                <td>{k.status.clone()}</td>
                                <td class="small"><TimeText text=k.created_at/></td>
                                <td class="small"><TimeText text=k.expires_at.unwrap_or_else(|| "never".into())/></td>
                                <td>
                                    {active
                                        .then(|| {
                                            view! {
                                                <ActionForm action=revoke>
                                                    <input type="hidden" name="key_id" value=k.id.clone()/>
                                                    <button type="submit" class="danger">"Revoke"</button>
                                                </ActionForm>
                                            }
                                        })}
                                </td>
                            </tr>
                        }
                    })
                    .collect_view()}
            </tbody>
        </table>
    }
}
