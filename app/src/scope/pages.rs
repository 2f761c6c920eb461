//! The grants section of an agent's page.

use super::{list_grants, GrantView, RemoveGrant, SaveGrant};
use crate::change::{ProposedNote, ReasonField, Saved};
use crate::policy::Stage;
use crate::ui::ErrorNote;
use leptos::prelude::*;

#[component]
pub fn GrantsPanel(agent_id: String, can_manage: bool, capabilities: Vec<String>) -> impl IntoView {
    let save = ServerAction::<SaveGrant>::new();
    let remove = ServerAction::<RemoveGrant>::new();
    let id = agent_id.clone();
    let grants = Resource::new(
        move || (save.version().get(), remove.version().get()),
        move |_| list_grants(id.clone()),
    );
    let agent_for_rows = agent_id.clone();
    view! {
        <section aria-labelledby="scope-heading">
            <h2 id="scope-heading">"Scope"</h2>
            <p class="muted">
                "Capabilities this agent may use, with their limits. Anything else is "
                <code>"out_of_scope"</code>" and held for approval."
            </p>
            <Transition fallback=|| view! { <p class="muted">"Loading scope…"</p> }>
                {move || {
                    let agent_id = agent_for_rows.clone();
                    Suspend::new(async move {
                        match grants.await {
                            Err(e) => view! { <ErrorNote error=e/> }.into_any(),
                            Ok(rows) if rows.is_empty() => {
                                view! { <p class="muted">"No capabilities granted yet."</p> }.into_any()
                            }
                            Ok(rows) => view! { <GrantTable rows agent_id can_manage remove/> }.into_any(),
                        }
                    })
                }}
            </Transition>
            {move || match remove.value().get() {
                Some(Err(e)) => view! { <ErrorNote error=e/> }.into_any(),
                _ => ().into_any(),
            }}
            <Show when=move || can_manage>
                <GrantEditor agent_id=agent_id.clone() capabilities=capabilities.clone() save/>
            </Show>
        </section>
    }
}

#[component]
fn GrantTable(
    rows: Vec<GrantView>,
    agent_id: String,
    can_manage: bool,
    remove: ServerAction<RemoveGrant>,
) -> impl IntoView {
    view! {
        <table class="table" data-testid="grants">
            <thead>
                <tr>
                    <th scope="col">"Capability"</th>
                    <th scope="col">"Stage"</th>
                    <th scope="col">"Limits"</th>
                    <th scope="col">"Expires"</th>
                    <th scope="col"><span class="visually-hidden">"Actions"</span></th>
                </tr>
            </thead>
            <tbody>
                {rows
                    .into_iter()
                    .map(|g| {
                        let mut limits = Vec::new();
                        if let Some(n) = g.max_per_hour {
                            limits.push(format!("≤ {n}/hour"));
                        }
                        limits.extend(g.bounds.iter().cloned());
                        if !g.targets.is_empty() {
                            limits.push(format!("targets: {}", g.targets.join(", ")));
                        }
                        let limits = if limits.is_empty() { "none".to_string() } else { limits.join("; ") };
                        let cap = g.capability.clone();
                        let agent = agent_id.clone();
                        view! {
                            <tr data-capability=g.capability.clone()>
                                <td><code>{g.capability.clone()}</code></td>
                                <td>{g.stage.map(|s| s.to_string()).unwrap_or_else(|| "agent's stage".into())}</td>
                                <td>{limits}</td>
                                <td>
                                    {g.expires_on.clone().unwrap_or_else(|| "never".into())}
                                    {g.expired.then(|| view! { <span class="badge trigger">"expired"</span> })}
                                </td>
                                <td>
                                    <Show when=move || can_manage>
                                        <button
                                            class="link"
                                            on:click={
                                                let cap = cap.clone();
                                                let agent = agent.clone();
                                                move |_| {
                                                    remove.dispatch(RemoveGrant {
                                                        agent_id: agent.clone(),
                                                        capability: cap.clone(),
                                                    });
                                                }
                                            }
                                        >
                                            "Remove"
                                        </button>
                                    </Show>
                                </td>
                            </tr>
                        }
                    })
                    .collect_view()}
            </tbody>
        </table>
    }
}

#[component]
fn GrantEditor(
    agent_id: String,
    capabilities: Vec<String>,
    save: ServerAction<SaveGrant>,
) -> impl IntoView {
    let result = move || match save.value().get() {
        Some(Ok(Saved::Applied(g))) => view! {
            <p class="success" role="status">{format!("Saved the grant for {}.", g.capability)}</p>
        }
        .into_any(),
        Some(Ok(Saved::Proposed(p))) => {
            view! { <div role="status"><ProposedNote proposed=p/></div> }.into_any()
        }
        Some(Err(e)) => view! { <ErrorNote error=e/> }.into_any(),
        None => ().into_any(),
    };
    view! {
        <section class="card">
            <h3>"Grant or change a capability"</h3>
            <ActionForm action=save attr:class="form">
                <input type="hidden" name="agent_id" value=agent_id/>
                <label>
                    "Capability"
                    <select name="capability" required>
                        <option value="">"Choose…"</option>
                        {capabilities
                            .into_iter()
                            .map(|c| view! { <option value=c.clone()>{c.clone()}</option> })
                            .collect_view()}
                    </select>
                </label>
                <label>
                    "Stage for this capability"
                    <select name="stage">
                        <option value="">"The agent's stage"</option>
                        {Stage::ALL
                            .into_iter()
                            .map(|s| view! { <option value=s.as_str()>{s.as_str()}</option> })
                            .collect_view()}
                    </select>
                </label>
                <label>
                    "At most this many per hour (blank: no limit)"
                    <input name="max_per_hour" inputmode="numeric"/>
                </label>
                <label>
                    "Parameter bounds, one per line (e.g. amount <= 500)"
                    <textarea name="bounds" rows="2"></textarea>
                </label>
                <label>
                    "Allowed targets, one per line; end with * for a prefix (blank: any)"
                    <textarea name="targets" rows="2"></textarea>
                </label>
                <label>"Expires on (blank: never)" <input name="expires_on" type="date"/></label>
                <ReasonField/>
                <button type="submit" disabled=move || save.pending().get()>
                    {move || if save.pending().get() { "Saving…" } else { "Save grant" }}
                </button>
            </ActionForm>
            {result}
        </section>
    }
}
