//! `/agents/:id/mcp`: the MCP upstreams an agent reaches through Belay's
//! gateway, each tool with its capability, risk triggers and what Belay
//! does with a call at the agent's stage; leads register URL upstreams,
//! list their tools again, edit the triggers and remove upstreams.

use super::*;
use crate::catalog::SaveCapability;
use crate::change::{ProposedNote, ReasonField, Saved};
use crate::policy::Trigger;
use crate::ui::{ErrorNote, StageBadge, TriggerList};
use leptos::prelude::*;
use leptos_router::hooks::use_params_map;

#[component]
pub fn McpPage() -> impl IntoView {
    let params = use_params_map();
    let id = move || params.read().get("id").unwrap_or_default();
    let add = ServerAction::<AddMcpUpstream>::new();
    let refresh = ServerAction::<RefreshMcpUpstream>::new();
    let remove = ServerAction::<RemoveMcpUpstream>::new();
    let save = ServerAction::<SaveCapability>::new();
    let changed = move || {
        add.version().get()
            + refresh.version().get()
            + remove.version().get()
            + save.version().get()
    };
    let overview = Resource::new(move || (id(), changed()), |(id, _)| get_mcp(id));
    let actions = Actions {
        add,
        refresh,
        remove,
        save,
    };
    view! {
        <Transition fallback=|| view! { <p class="muted">"Loading MCP upstreams…"</p> }>
            {move || Suspend::new(async move {
                match overview.await {
                    Ok(o) => view! { <Overview o actions/> }.into_any(),
                    Err(e) => view! { <ErrorNote error=e/> }.into_any(),
                }
            })}
        </Transition>
    }
}

#[derive(Clone, Copy)]
struct Actions {
    add: ServerAction<AddMcpUpstream>,
    refresh: ServerAction<RefreshMcpUpstream>,
    remove: ServerAction<RemoveMcpUpstream>,
    save: ServerAction<SaveCapability>,
}

#[component]
fn Overview(o: McpOverview, actions: Actions) -> impl IntoView {
    let agent_id = o.agent_id.clone();
    let can_manage = o.can_manage;
    view! {
        <p><a href=format!("/agents/{}", o.agent_id)>{format!("← {}", o.agent_name)}</a></p>
        <h1>{format!("MCP upstreams of {}", o.agent_name)} " " <StageBadge stage=o.stage/></h1>
        <p class="muted">
            "The agent's MCP client points at Belay's " <code>"/mcp"</code>
            " with its API key; Belay fronts these tool servers. Each tool is a capability in the "
            "catalog: a call is decided by the agent's stage and the tool's risk triggers, "
            {format!("and a call that needs approval is held up to {}s for a decision.", o.wait_secs)}
        </p>
        <Outcomes actions/>
        {if o.upstreams.is_empty() {
            view! { <p class="muted" data-testid="no-upstreams">"No MCP upstreams yet."</p> }.into_any()
        } else {
            o.upstreams
                .into_iter()
                .map(|u| view! { <UpstreamCard u agent_id=agent_id.clone() can_manage actions/> })
                .collect_view()
                .into_any()
        }}
        {can_manage.then(|| view! { <AddForm agent_id=agent_id.clone() add=actions.add/> })}
    }
}

/// What the last action did.
#[component]
fn Outcomes(actions: Actions) -> impl IntoView {
    let registered = move |v: Option<Result<Vec<RegisteredRow>, AppError>>| match v {
        Some(Ok(rows)) => view! { <RegisteredNote rows/> }.into_any(),
        Some(Err(e)) => view! { <ErrorNote error=e/> }.into_any(),
        None => ().into_any(),
    };
    view! {
        {move || registered(actions.add.value().get())}
        {move || registered(actions.refresh.value().get())}
        {move || match actions.remove.value().get() {
            Some(Ok(())) => view! { <p class="success" role="status">"Upstream removed."</p> }.into_any(),
            Some(Err(e)) => view! { <ErrorNote error=e/> }.into_any(),
            None => ().into_any(),
        }}
        {move || match actions.save.value().get() {
            Some(Ok(Saved::Applied(c))) => view! { <p class="success" role="status">{format!("Saved the risk triggers of {}.", c.name)}</p> }.into_any(),
            Some(Ok(Saved::Proposed(p))) => view! { <div role="status"><ProposedNote proposed=p/></div> }.into_any(),
            Some(Err(e)) => view! { <ErrorNote error=e/> }.into_any(),
            None => ().into_any(),
        }}
    }
}

#[component]
fn RegisteredNote(rows: Vec<RegisteredRow>) -> impl IntoView {
    view! {
        <div class="success" role="status" data-testid="registered">
            <p>{format!("Registered {} tools.", rows.len())}</p>
            <ul>
                {rows.into_iter().map(|r| {
                    let said = match (r.entry.as_str(), &r.proposal) {
                        ("added", _) => "added to the catalog".to_string(),
                        ("proposed", Some(id)) => format!("its catalog entry (no risk triggers) waits for another lead: change {id}"),
                        _ => "already in the catalog, kept as it is".to_string(),
                    };
                    view! { <li><code>{r.tool}</code> " → " <code>{r.capability}</code> ": " {said}</li> }
                }).collect_view()}
            </ul>
        </div>
    }
}

#[component]
fn UpstreamCard(
    u: UpstreamView,
    agent_id: String,
    can_manage: bool,
    actions: Actions,
) -> impl IntoView {
    let stdio = u.transport == "stdio";
    view! {
        <section class="card" data-upstream=u.name.clone()>
            <h2>{u.name.clone()} " " <span class="badge">{u.transport.clone()}</span></h2>
            <p><code data-testid="endpoint">{u.endpoint.clone()}</code></p>
            {stdio.then(|| view! {
                <p class="muted small">
                    "A command upstream runs a program on the Belay server, so only the operator registers "
                    "or changes it, with " <code>"belay mcp add-upstream"</code> "; leads see it here and may list its tools again."
                </p>
            })}
            <table class="table" data-testid="tools">
                <thead>
                    <tr><th>"Tool"</th><th>"Capability"</th><th>"Risk triggers"</th><th>"At this stage"</th></tr>
                </thead>
                <tbody>
                    {u.tools.into_iter().map(|t| view! { <ToolRow t can_manage save=actions.save/> }).collect_view()}
                </tbody>
            </table>
            {can_manage.then(|| {
                let (a1, a2, id1, id2) = (agent_id.clone(), agent_id.clone(), u.id.clone(), u.id.clone());
                view! {
                    <div class="row">
                        <ActionForm action=actions.refresh attr:class="form inline">
                            <input type="hidden" name="agent_id" value=a1/>
                            <input type="hidden" name="upstream_id" value=id1/>
                            <button type="submit">"List its tools again"</button>
                        </ActionForm>
                        <ActionForm action=actions.remove attr:class="form inline">
                            <input type="hidden" name="agent_id" value=a2/>
                            <input type="hidden" name="upstream_id" value=id2/>
                            <button type="submit" class="danger">"Remove upstream"</button>
                        </ActionForm>
                    </div>
                }
            })}
        </section>
    }
}

#[component]
fn ToolRow(t: ToolView, can_manage: bool, save: ServerAction<SaveCapability>) -> impl IntoView {
    let known = t.entry.is_some();
    let entry = t.entry.clone();
    view! {
        <tr data-tool=t.tool.clone()>
            <td>
                <code>{t.exposed.clone()}</code>
                <div class="muted small">{t.description.clone()}</div>
                <div class="small">{t.hints.join(", ")}</div>
            </td>
            <td><code>{t.capability.clone()}</code></td>
            <td>
                <TriggerList triggers=entry.as_ref().map(|e| e.triggers.clone()).unwrap_or_default() known/>
                {t.proposal.clone().map(|id| view! {
                    <div class="small"><a href=format!("/changes/{id}")>"entry awaits a second lead"</a></div>
                })}
                {match (can_manage, entry) {
                    (true, Some(e)) => view! { <TriggerForm entry=e save/> }.into_any(),
                    _ => ().into_any(),
                }}
            </td>
            <td data-testid="at-stage" data-outcome=t.outcome.clone()>{t.belay.clone()}</td>
        </tr>
    }
}

/// The tool's catalog entry's triggers, saved with the catalog's own
/// server function (fewer triggers wait for a second lead).
#[component]
fn TriggerForm(
    entry: crate::catalog::CapabilityRow,
    save: ServerAction<SaveCapability>,
) -> impl IntoView {
    view! {
        <details>
            <summary>"Edit risk triggers"</summary>
            <ActionForm action=save attr:class="form">
                <input type="hidden" name="name" value=entry.name.clone()/>
                <input type="hidden" name="description" value=entry.description.clone()/>
                {entry.reversible.then(|| view! { <input type="hidden" name="checked[reversible]" value="on"/> })}
                <fieldset>
                    <legend>"Risk triggers"</legend>
                    {Trigger::ALL.into_iter().map(|tr| view! {
                        <label class="check">
                            <input type="checkbox" name=format!("checked[{}]", tr.as_str()) value="on" checked=entry.triggers.contains(&tr)/>
                            {tr.as_str()}
                        </label>
                    }).collect_view()}
                </fieldset>
                <ReasonField/>
                <button type="submit">"Save triggers"</button>
            </ActionForm>
        </details>
    }
}

#[component]
fn AddForm(agent_id: String, add: ServerAction<AddMcpUpstream>) -> impl IntoView {
    view! {
        <section class="card">
            <h2>"Register a Streamable HTTP upstream"</h2>
            <p class="muted small">
                "Belay connects to it from the server and lists its tools; each becomes a catalog entry with "
                "risk triggers from its annotations (read-only: none, which another lead approves; otherwise "
                "destructive unless it says it only adds, and external_send unless its world is closed). "
                "A bearer token is never typed here: name the environment variable (MCP_TOKEN_…) or the file in "
                "/etc/belay/mcp-tokens/ the operator put it in."
            </p>
            <ActionForm action=add attr:class="form">
                <input type="hidden" name="agent_id" value=agent_id/>
                <label>"Name" <input name="name" required placeholder="github" maxlength="40"/></label>
                <label>"URL" <input name="url" type="url" required placeholder="https://tools.example.com/mcp"/></label>
                <label>
                    "Bearer token"
                    <select name="token_from">
                        <option value="none">"none"</option>
                        <option value="env">"from an environment variable"</option>
                        <option value="file">"from a file"</option>
                    </select>
                </label>
                <label>"Variable name or file path" <input name="token_source" placeholder="MCP_TOKEN_GITHUB"/></label>
                <ReasonField/>
                <button type="submit" disabled=move || add.pending().get()>
                    {move || if add.pending().get() { "Connecting…" } else { "Register upstream" }}
                </button>
            </ActionForm>
        </section>
    }
}
