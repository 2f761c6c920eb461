//! `/policy` (the rules, editable by leads, with their history) and
//! `/simulate` (what Belay would decide, and why, recording nothing).

use super::{current_policy, simulate_choices, PolicyView, SavePolicy, Simulate, Simulation};
use crate::change::{ProposedNote, Saved};
use crate::local_time::TimeText;
use crate::policy::Outcome;
use crate::ui::{ErrorNote, StageBadge};
use leptos::prelude::*;

#[component]
pub fn PolicyPage() -> impl IntoView {
    let save = ServerAction::<SavePolicy>::new();
    let policy = Resource::new(move || save.version().get(), |_| current_policy());
    view! {
        <h1>"Policy"</h1>
        <p class="muted">
            "For each reason an action can be held: how many distinct people must approve it, "
            "how long it may wait before it expires (expiry means no), and, for risk triggers, "
            "whether it pauses even agents at scoped autonomy; whether the agent's own sponsor may be one of the "
            "approvers (never, unless every rule that held the request allows it); and how long an approval "
            "stays good (an approved request not claimed by then expires). Every save is a new version; each "
            "decision records the version that made it."
        </p>
        {move || match save.value().get() {
            Some(Ok(Saved::Applied(v))) => view! { <p class="success" role="status">{format!("Saved as policy v{v}.")}</p> }.into_any(),
            Some(Ok(Saved::Proposed(p))) => view! { <div role="status"><ProposedNote proposed=p/></div> }.into_any(),
            Some(Err(e)) => view! { <ErrorNote error=e/> }.into_any(),
            None => ().into_any(),
        }}
        <Transition fallback=|| view! { <p class="muted">"Loading the policy…"</p> }>
            {move || Suspend::new(async move {
                match policy.await {
                    Ok(p) => view! { <PolicyEditor policy=p save/> }.into_any(),
                    Err(e) => view! { <ErrorNote error=e/> }.into_any(),
                }
            })}
        </Transition>
    }
}

#[component]
fn PolicyEditor(policy: PolicyView, save: ServerAction<SavePolicy>) -> impl IntoView {
    let edit = policy.can_edit;
    let rows = policy
        .rules
        .into_iter()
        .map(|r| {
            let k = r.key.as_str();
            view! {
                <tr data-rule=k>
                    <th scope="row"><code>{k}</code><div class="muted small">{r.about.clone()}</div></th>
                    <td>
                        <select name=format!("fields[approvals-{k}]") disabled=!edit aria-label=format!("approvals for {k}")>
                            {(1..=3u8).map(|n| view! { <option value=n.to_string() selected=n == r.approvals>{n}</option> }).collect_view()}
                        </select>
                    </td>
                    <td>
                        <input name=format!("fields[wait-{k}]") value=r.wait.clone() size="6" disabled=!edit
                            aria-label=format!("wait for {k}")/>
                    </td>
                    <td>
                        {r.key.is_trigger().then(|| view! {
                            <input type="checkbox" name=format!("fields[always-{k}]") value="on"
                                checked=r.always_approve disabled=!edit aria-label=format!("always approve {k}")/>
                        })}
                    </td>
                    <td>
                        <input type="checkbox" name=format!("fields[sponsor-{k}]") value="on"
                            checked=r.sponsor_may_approve disabled=!edit aria-label=format!("sponsor may approve {k}")/>
                    </td>
                    <td>
                        <input name=format!("fields[claim-{k}]") value=r.claim.clone() size="6" disabled=!edit
                            aria-label=format!("claim within for {k}")/>
                    </td>
                    <td class="small">{r.name.clone()}</td>
                </tr>
            }
        })
        .collect_view();
    view! {
        <section class="card">
            <h2 data-testid="policy-version">{format!("Rules in force: policy v{}", policy.version)}</h2>
            <ActionForm action=save attr:class="form">
                <input type="hidden" name="base_version" value=policy.version.to_string()/>
                <table class="table" data-testid="rules">
                    <thead>
                        <tr>
                            <th scope="col">"Held for"</th>
                            <th scope="col">"Approvals"</th>
                            <th scope="col">"Wait (90s, 45m, 24h, 7d)"</th>
                            <th scope="col">"Always approve"</th>
                            <th scope="col" title="Sponsors never approve their own agents' requests unless every rule that held one allows it">"Sponsor may approve"</th>
                            <th scope="col" title="An approved request not claimed within this expires">"Claim within"</th>
                            <th scope="col">"Reads as"</th>
                        </tr>
                    </thead>
                    <tbody>{rows}</tbody>
                </table>
                {edit.then(|| view! {
                    <label>"What changed and why (another lead reads it when the rules hold less)" <input name="note" placeholder="external sends need a second reviewer"/></label>
                    <button type="submit" disabled=move || save.pending().get()>
                        {move || if save.pending().get() { "Saving…" } else { "Save as a new version" }}
                    </button>
                })}
            </ActionForm>
        </section>
        <section>
            <h2>"History"</h2>
            <table class="table" data-testid="history">
                <thead><tr><th>"Version"</th><th>"When"</th><th>"By"</th><th>"Note"</th></tr></thead>
                <tbody>
                    {policy.history.into_iter().map(|v| view! {
                        <tr>
                            <td>{format!("v{}", v.version)}</td>
                            <td class="small"><TimeText text=v.at/></td>
                            <td>{v.by.unwrap_or_else(|| "Belay".into())}</td>
                            <td>{v.note}</td>
                        </tr>
                    }).collect_view()}
                </tbody>
            </table>
        </section>
    }
}

#[component]
pub fn SimulatePage() -> impl IntoView {
    let run = ServerAction::<Simulate>::new();
    let choices = Resource::new(|| (), |_| simulate_choices());
    view! {
        <h1>"Simulate a decision"</h1>
        <p class="muted">"Pick an agent and an action: Belay decides it with the real policy, scope and history, and records nothing."</p>
        <Transition fallback=|| view! { <p class="muted">"Loading…"</p> }>
            {move || Suspend::new(async move {
                match choices.await {
                    Err(e) => view! { <ErrorNote error=e/> }.into_any(),
                    Ok((agents, capabilities)) => view! {
                        <ActionForm action=run attr:class="form card">
                            <label>
                                "Agent"
                                <select name="agent_id" required>
                                    {agents.into_iter().map(|(id, name)| view! { <option value=id>{name}</option> }).collect_view()}
                                </select>
                            </label>
                            <label>
                                "Capability"
                                <input name="capability" list="capabilities" required placeholder="email.send"/>
                                <datalist id="capabilities">
                                    {capabilities.into_iter().map(|c| view! { <option value=c/> }).collect_view()}
                                </datalist>
                            </label>
                            <label>"Target" <input name="target" placeholder="customer:acme"/></label>
                            <label>"Params (JSON)" <textarea name="params" rows="3" placeholder="{\"amount\": 120}"></textarea></label>
                            <button type="submit" disabled=move || run.pending().get()>
                                {move || if run.pending().get() { "Deciding…" } else { "Simulate" }}
                            </button>
                        </ActionForm>
                    }
                    .into_any(),
                }
            })}
        </Transition>
        {move || match run.value().get() {
            Some(Ok(s)) => view! { <SimulationResult s/> }.into_any(),
            Some(Err(e)) => view! { <ErrorNote error=e/> }.into_any(),
            None => ().into_any(),
        }}
    }
}

#[component]
fn SimulationResult(s: Simulation) -> impl IntoView {
    let outcome = s.outcome.as_str();
    view! {
        <section class="card" role="status" data-testid="simulation">
            <h2>
                {format!("{} → {}: ", s.agent_name, s.capability)}
                <span class=format!("badge state state-{outcome}") data-testid="outcome">{outcome}</span>
            </h2>
            <p>
                "Stage for this capability: " <StageBadge stage=s.stage/>
                {format!(" · policy v{}", s.policy_version)}
                {(s.outcome == Outcome::PendingApproval).then(|| format!(
                    " · needs {} distinct approval(s) within {}",
                    s.approvals_required,
                    s.wait.clone().unwrap_or_default()
                ))}
            </p>
            <ul class="reasons">
                {s.reasons.into_iter().map(|r| view! { <li>{r}</li> }).collect_view()}
            </ul>
        </section>
    }
}
