//! Runs where people already look: "this run so far" on a request's page,
//! the agent's runs on its page, and escalations in the approval queue.

use super::model::{AgentRuns, EscalationRow, RunSoFar, Step, StepKind};
use super::{fetch_agent_runs, fetch_run_so_far, open_escalations};
use crate::local_time::LocalTime;
use crate::ui::ErrorNote;
use leptos::prelude::*;

/// On a request's page: the latest steps of its run, linking to the run.
#[component]
pub fn RunSoFarPanel(action_id: String) -> impl IntoView {
    let data = Resource::new(move || action_id.clone(), fetch_run_so_far);
    view! {
        <Transition fallback=|| ()>
            {move || Suspend::new(async move {
                match data.await {
                    Ok(Some(r)) => view! { <SoFar r/> }.into_any(),
                    Ok(None) => ().into_any(),
                    Err(e) => view! { <ErrorNote error=e/> }.into_any(),
                }
            })}
        </Transition>
    }
}

#[component]
fn SoFar(r: RunSoFar) -> impl IntoView {
    view! {
        <section class="card" data-testid="run-so-far">
            <h2>"This run so far"</h2>
            <p class="small">"Run " <code>{r.key.clone()}</code>
                {r.more.then_some(" (latest steps)")} " · "
                <a href=format!("/runs/{}", r.run_id) data-testid="run-link">"the whole run →"</a>
            </p>
            <ul class="plain small">
                {r.steps.into_iter().map(|s| view! { <li><LocalTime ms=s.at_ms/> " " {line(&s)}</li> }).collect_view()}
            </ul>
        </section>
    }
}

/// One step in a line of text.
fn line(s: &Step) -> String {
    let short = |t: &str| {
        if t.chars().count() > 120 {
            format!("{}…", t.chars().take(120).collect::<String>())
        } else {
            t.to_string()
        }
    };
    match &s.what {
        StepKind::Event {
            kind, text, url, ..
        } => {
            let what = text.as_deref().or(url.as_deref()).unwrap_or("");
            format!("{}: {}", kind.replace('_', " "), short(what))
        }
        StepKind::Escalation { text, open, .. } => {
            format!(
                "escalation{}: {}",
                if *open { " (open)" } else { "" },
                short(text)
            )
        }
        StepKind::Answered { answer, .. } => format!("answered: {}", short(answer)),
        StepKind::Submitted {
            capability,
            decision,
            ..
        } => {
            format!("request {capability}: {}", decision.replace('_', " "))
        }
        StepKind::Approval { by, .. } => format!("approved by {by}"),
        StepKind::Decided {
            capability, state, ..
        } => format!("{capability} {}", state.label()),
        StepKind::Claimed { capability, .. } => format!("{capability} claimed"),
        StepKind::Finished {
            capability, state, ..
        } => format!("{capability} {}", state.label()),
    }
}

/// On the agent's page: its runs, and how many stalled or escalated.
#[component]
pub fn AgentRunsPanel(agent_id: String) -> impl IntoView {
    let data = Resource::new(move || agent_id.clone(), fetch_agent_runs);
    view! {
        <Transition fallback=|| ()>
            {move || Suspend::new(async move {
                match data.await {
                    Ok(r) => view! { <Runs r/> }.into_any(),
                    Err(e) => view! { <ErrorNote error=e/> }.into_any(),
                }
            })}
        </Transition>
    }
}

#[component]
fn Runs(r: AgentRuns) -> impl IntoView {
    view! {
        <section class="card" aria-labelledby="runs" data-testid="agent-runs">
            <h2 id="runs">"Runs"</h2>
            <p data-testid="run-counts">
                {format!("Last {} days: {} runs, {} stalled, {} escalated.", r.days, r.runs, r.stalled, r.escalated)}
            </p>
            <p class="muted small">"Stalled: a held request or escalation waited more than 30 minutes for a person."</p>
            {if r.recent.is_empty() {
                view! { <p class="muted">"No runs yet."</p> }.into_any()
            } else {
                view! {
                    <table class="table">
                        <thead><tr><th>"Run"</th><th>"Started"</th><th>"Last activity"</th><th></th></tr></thead>
                        <tbody>
                            {r.recent.into_iter().map(|run| view! {
                                <tr>
                                    <td><a href=format!("/runs/{}", run.id)><code>{run.key}</code></a></td>
                                    <td><LocalTime ms=run.started_at_ms/></td>
                                    <td><LocalTime ms=run.last_at_ms ago=true/></td>
                                    <td>
                                        {run.stalled.then(|| view! { <span class="badge warn">"stalled"</span> " " })}
                                        {run.escalated.then(|| view! { <span class="badge">"escalated"</span> })}
                                    </td>
                                </tr>
                            }).collect_view()}
                        </tbody>
                    </table>
                }.into_any()
            }}
        </section>
    }
}

/// In the approval queue: escalations waiting for an answer, re-read
/// with the queue (`refresh`, bumped by its live updates).
#[component]
pub fn OpenEscalations(refresh: RwSignal<u32>) -> impl IntoView {
    let data = Resource::new(move || refresh.get(), |_| open_escalations());
    view! {
        <Transition fallback=|| ()>
            {move || Suspend::new(async move {
                match data.await {
                    Ok(rows) if rows.is_empty() => ().into_any(),
                    Ok(rows) => view! { <Escalations rows/> }.into_any(),
                    Err(e) => view! { <ErrorNote error=e/> }.into_any(),
                }
            })}
        </Transition>
    }
}

#[component]
fn Escalations(rows: Vec<EscalationRow>) -> impl IntoView {
    view! {
        <section class="card" aria-labelledby="escalations" data-testid="escalations">
            <h2 id="escalations">{format!("Escalations waiting for an answer ({})", rows.len())}</h2>
            <ul class="plain">
                {rows.into_iter().map(|e| view! {
                    <li data-testid="escalation">
                        <a href=format!("/runs/{}#event-{}", e.run_id, e.id)>{e.agent_name}" · run "<code>{e.run_key}</code></a>
                        " raised " <LocalTime ms=e.at_ms ago=true/>
                        <p class="event-text">{e.text.chars().take(300).collect::<String>()}</p>
                    </li>
                }).collect_view()}
            </ul>
        </section>
    }
}
