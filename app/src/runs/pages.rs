//! The run page (`/runs/:id`): what the run is waiting for, then one
//! timeline of what the agent reported and what became of its requests,
//! with the quiet gaps and the waits for people marked. Everything the
//! agent sent is shown as text, never as HTML.

use super::model::{RunPageData, RunSummary, Step, StepKind, GAP_MS};
use super::{get_run, AnswerEscalation};
use crate::actions::model::RequestState;
use crate::clock::age;
use crate::local_time::LocalTime;
use crate::ui::ErrorNote;
use leptos::prelude::*;
use leptos_meta::Title;
use leptos_router::hooks::{use_params_map, use_query_map};

#[component]
pub fn RunPage() -> impl IntoView {
    let params = use_params_map();
    let query = use_query_map();
    let answer = ServerAction::<AnswerEscalation>::new();
    let data = Resource::new(
        move || {
            let from = query.read().get("from").and_then(|f| f.parse::<i64>().ok());
            (
                params.read().get("id").unwrap_or_default(),
                from,
                answer.version().get(),
            )
        },
        |(id, from, _)| get_run(id, from),
    );
    view! {
        <Title text="Run · Belay"/>
        {move || answer.value().get().and_then(Result::err).map(|e| view! { <ErrorNote error=e/> })}
        <Transition fallback=|| view! { <p class="muted">"Loading the run…"</p> }>
            {move || Suspend::new(async move {
                match data.await {
                    Ok(d) => view! { <RunView d answer/> }.into_any(),
                    Err(e) => view! { <ErrorNote error=e/> }.into_any(),
                }
            })}
        </Transition>
    }
}

#[component]
fn RunView(d: RunPageData, answer: ServerAction<AnswerEscalation>) -> impl IntoView {
    let RunPageData {
        run,
        steps,
        next,
        can_answer,
        now_ms,
    } = d;
    let next_href = next.map(|t| format!("/runs/{}?from={t}", run.id));
    let first_href = format!("/runs/{}", run.id);
    view! {
        <p><a href=format!("/agents/{}", run.agent_id)>{format!("← {}", run.agent_name)}</a></p>
        <h1>"Run " <code data-testid="run-key">{run.key.clone()}</code></h1>
        <Summary run=run.clone() now_ms/>
        <section class="card" aria-labelledby="timeline">
            <h2 id="timeline">"Timeline"</h2>
            {steps.is_empty().then(|| view! { <p class="muted">"Nothing on this page of the run."</p> })}
            <ol class="timeline" data-testid="timeline">
                {gaps(steps).into_iter().map(|(gap, step)| view! {
                    {gap.map(|ms| view! {
                        <li class="gap muted small" data-testid="gap">{format!("nothing for {}", age(0, ms))}</li>
                    })}
                    <StepLine step can_answer answer now_ms/>
                }).collect_view()}
            </ol>
            <p class="small">
                {next_href.map(|h| view! { <a href=h data-testid="next-page">"Later steps →"</a> " " })}
                <a href=first_href>"From the start"</a>
            </p>
        </section>
    }
}

/// Each step with the quiet time before it, when that was long.
fn gaps(steps: Vec<Step>) -> Vec<(Option<i64>, Step)> {
    let mut last = None;
    steps
        .into_iter()
        .map(|s| {
            let gap = last.map(|t| s.at_ms - t).filter(|g| *g >= GAP_MS);
            last = Some(s.at_ms);
            (gap, s)
        })
        .collect()
}

#[component]
fn Summary(run: RunSummary, now_ms: i64) -> impl IntoView {
    view! {
        <dl class="facts" data-testid="run-summary">
            <dt>"Agent"</dt><dd><a href=format!("/agents/{}", run.agent_id)>{run.agent_name.clone()}</a></dd>
            <dt>"Started"</dt><dd><LocalTime ms=run.started_at_ms/></dd>
            <dt>"Last activity"</dt><dd><LocalTime ms=run.last_at_ms ago=true/></dd>
            <dt>"Steps"</dt>
            <dd>{format!("{} events, {} requests, {} escalations", run.events, run.actions, run.escalations)}</dd>
            <dt>"Waited for people"</dt>
            <dd data-testid="waited">
                {age(0, run.waited_ms)}
                {run.stalled.then(|| view! { " " <span class="badge warn" data-testid="stalled">"stalled"</span> })}
            </dd>
            <dt>"Waiting now"</dt>
            <dd data-testid="waiting">
                {if run.waiting.is_empty() {
                    view! { "nothing" }.into_any()
                } else {
                    view! {
                        <ul class="plain">
                            {run.waiting.iter().map(|w| view! {
                                <li><a href=w.href.clone()>{w.what.clone()}</a>
                                    {format!(" for {}", age(w.since_ms, now_ms))}</li>
                            }).collect_view()}
                        </ul>
                    }.into_any()
                }}
            </dd>
        </dl>
    }
}

#[component]
fn StepLine(
    step: Step,
    can_answer: bool,
    answer: ServerAction<AnswerEscalation>,
    now_ms: i64,
) -> impl IntoView {
    let at = step.at_ms;
    let body = match step.what {
        StepKind::Event { kind, text, url, data } => view! {
            <span class="step-kind" data-testid="step-kind">{kind.replace('_', " ")}</span>
            {url.map(|u| view! { " " <code class="url">{u}</code> })}
            {text.map(|t| view! { <p class="event-text">{t}</p> })}
            {data.map(|d| view! { <pre class="params">{d}</pre> })}
        }.into_any(),
        StepKind::Escalation { id, text, open } => view! {
            <span class="step-kind escalation" data-testid="step-kind" id=format!("event-{id}")>"escalation"</span>
            {open.then(|| view! { " " <span class="badge warn">{format!("open for {}", age(at, now_ms))}</span> })}
            <p class="event-text">{text}</p>
            {(open && can_answer).then(|| view! { <AnswerForm id answer/> })}
        }.into_any(),
        StepKind::Answered { by, answer, waited_ms, .. } => view! {
            <span class="step-kind" data-testid="step-kind">"answered"</span>
            {format!(" by {} after {}", by.unwrap_or_else(|| "a reviewer".into()), age(0, waited_ms))}
            <p class="event-text">{answer}</p>
        }.into_any(),
        StepKind::Submitted { action_id, capability, summary, decision, evidence } => view! {
            <span class="step-kind" data-testid="step-kind">"request"</span> " "
            <a href=format!("/approvals/{action_id}")><code>{capability}</code></a>
            {format!(" — {}", decision.replace('_', " "))}
            <p class="event-text">{summary}</p>
            {(!evidence.is_empty()).then(|| view! {
                <p class="small">"Evidence: "
                    {evidence.into_iter().map(|e| view! {
                        <a href=format!("/approvals/{action_id}#evidence")>{format!("{} ({} bytes)", e.kind, e.size_bytes)}</a> " "
                    }).collect_view()}
                </p>
            })}
        }.into_any(),
        StepKind::Approval { action_id, by } => view! {
            <span class="step-kind" data-testid="step-kind">"approval"</span>
            {format!(" by {by} of ")}<a href=format!("/approvals/{action_id}")>"the request"</a>
        }.into_any(),
        StepKind::Decided { action_id, capability, state, by, note, waited_ms } => view! {
            <span class="step-kind" data-testid="step-kind">"decided"</span> " "
            <a href=format!("/approvals/{action_id}")><code>{capability}</code></a> " "
            <Badge state/>
            {format!(" by {} after waiting {}", by.unwrap_or_else(|| "Belay".into()), age(0, waited_ms))}
            {note.map(|n| view! { <p class="event-text">{format!("Note: {n}")}</p> })}
        }.into_any(),
        StepKind::Claimed { action_id, capability } => view! {
            <span class="step-kind" data-testid="step-kind">"claimed"</span> " "
            <a href=format!("/approvals/{action_id}")><code>{capability}</code></a>
        }.into_any(),
        StepKind::Finished { action_id, capability, state, detail, incident } => view! {
            <span class="step-kind" data-testid="step-kind">"outcome"</span> " "
            <a href=format!("/approvals/{action_id}")><code>{capability}</code></a> " "
            <Badge state/>
            {incident.then(|| view! { " " <span class="badge danger">"incident"</span> })}
            {detail.map(|d| view! { <p class="event-text">{d}</p> })}
        }.into_any(),
    };
    view! {
        <li class="step" data-testid="step">
            <span class="muted small"><LocalTime ms=at/></span> " "
            {body}
        </li>
    }
}

#[component]
fn AnswerForm(id: String, answer: ServerAction<AnswerEscalation>) -> impl IntoView {
    view! {
        <ActionForm action=answer attr:class="form">
            <input type="hidden" name="id" value=id/>
            <label>
                "Your answer (the agent reads it)"
                <textarea name="answer" required rows="2" data-testid="answer-text"></textarea>
            </label>
            <button type="submit" disabled=move || answer.pending().get()>"Answer"</button>
        </ActionForm>
    }
}

/// A request's state as a badge (the request page's look).
#[component]
fn Badge(state: RequestState) -> impl IntoView {
    view! { <span class=format!("badge state state-{}", state.as_str())>{state.label()}</span> }
}
