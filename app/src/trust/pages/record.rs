//! The agent's record on its page: metrics over 7/30/90 days, charts, per
//! capability figures, the stage timeline, readiness for the next stage
//! and its promotion reviews.

use super::charts::{OutcomeMix, WeeklyTrend};
use super::{what_if_text, CheckList};
use crate::local_time::TimeText;
use crate::policy::Stage;
use crate::trust::model::{pct, AgentMetrics, Figures, StageChange};
use crate::trust::views::ReviewRow;
use crate::trust::{agent_record, OpenReview, RecordData};
use crate::ui::ErrorNote;
use leptos::prelude::*;

#[component]
pub fn AgentRecord(agent_id: String, stage: Stage, suspended: bool) -> impl IntoView {
    let open = ServerAction::<OpenReview>::new();
    let id = agent_id.clone();
    let record = Resource::new(
        move || open.version().get(),
        move |_| agent_record(id.clone()),
    );
    view! {
        <Transition fallback=|| view! { <p class="muted">"Loading the record…"</p> }>
            {move || {
                let agent_id = agent_id.clone();
                Suspend::new(async move {
                    match record.await {
                        Ok(r) => view! { <RecordView r agent_id stage suspended open/> }.into_any(),
                        Err(e) => view! { <ErrorNote error=e/> }.into_any(),
                    }
                })
            }}
        </Transition>
    }
}

#[component]
fn RecordView(
    r: RecordData,
    agent_id: String,
    stage: Stage,
    suspended: bool,
    open: ServerAction<OpenReview>,
) -> impl IntoView {
    let m = r.metrics;
    let month = m.windows.get(1).cloned().unwrap_or_default();
    view! {
        <section class="card" aria-labelledby="record">
            <h2 id="record">"Approval record"</h2>
            <p class="muted small">
                {format!("At its current stage for {} days. Rates are shares of human decisions (approved, rejected or expired).", m.days_at_stage)}
            </p>
            <MetricsTable m=m.clone()/>
            <h3>"Trend per week"</h3>
            <WeeklyTrend weeks=m.weeks.clone()/>
            <h3>"Outcome mix"</h3>
            <OutcomeMix f=month/>
            <CapabilityTable m=m.clone()/>
        </section>
        {r.next.map(|n| view! {
            <section class="card" aria-labelledby="next-stage">
                <h2 id="next-stage">"Ready for " {n.to.as_str()} "?"</h2>
                <CheckList checks=n.checks/>
                <p data-testid="what-if">{what_if_text(&n.what_if)}</p>
            </section>
        })}
        <Timeline history=m.history/>
        <Reviews rows=r.reviews/>
        {r.can_open.then(|| view! { <OpenForm agent_id stage suspended open/> })}
    }
}

fn row(label: &str, f: &[Figures], cell: impl Fn(&Figures) -> String) -> impl IntoView {
    view! {
        <tr>
            <th scope="row">{label.to_string()}</th>
            {f.iter().map(|f| view! { <td>{cell(f)}</td> }).collect_view()}
        </tr>
    }
}

#[component]
fn MetricsTable(m: AgentMetrics) -> impl IntoView {
    let w = m.windows;
    view! {
        <table class="table metrics" data-testid="metrics">
            <thead>
                <tr><th></th>{w.iter().map(|f| view! { <th scope="col">{format!("{} days", f.days)}</th> }).collect_view()}</tr>
            </thead>
            <tbody>
                {row("Requests", &w, |f| f.submitted.to_string())}
                {row("Allowed outright", &w, |f| f.allowed.to_string())}
                {row("Human decisions", &w, |f| f.decided().to_string())}
                {row("Approved", &w, |f| format!("{} ({})", pct(f.approved, f.decided()), f.approved))}
                {row("Rejected", &w, |f| format!("{} ({})", pct(f.rejected, f.decided()), f.rejected))}
                {row("Corrected", &w, |f| format!("{} ({})", pct(f.corrected, f.decided()), f.corrected))}
                {row("Expired", &w, |f| format!("{} ({})", pct(f.expired, f.decided()), f.expired))}
                {row("Median time to decision", &w, |f| f.median_wait_label().to_string())}
                {row("Execution success", &w, |f| format!("{} of {}", pct(f.succeeded, f.outcomes()), f.outcomes()))}
                {row("Incidents", &w, |f| f.incidents.to_string())}
                {row("Distinct reviewers", &w, |f| f.reviewers.to_string())}
            </tbody>
        </table>
    }
}

#[component]
fn CapabilityTable(m: AgentMetrics) -> impl IntoView {
    if m.capabilities.is_empty() {
        return view! { <p class="muted">"No requests in the last 90 days."</p> }.into_any();
    }
    view! {
        <h3>"Per capability, last 30 days"</h3>
        <table class="table" data-testid="capability-metrics">
            <thead>
                <tr>
                    <th>"Capability"</th><th>"Requests"</th><th>"Decisions"</th><th>"Approved"</th>
                    <th>"Rejected"</th><th>"Corrected"</th><th>"Expired"</th><th>"Median wait"</th>
                    <th>"Success"</th><th>"Incidents"</th><th>"Reviewers"</th>
                </tr>
            </thead>
            <tbody>
                {m.capabilities.into_iter().map(|c| {
                    let f = c.windows.get(1).cloned().unwrap_or_default();
                    view! {
                        <tr>
                            <td><code>{c.capability}</code></td>
                            <td>{f.submitted}</td>
                            <td>{f.decided()}</td>
                            <td>{pct(f.approved, f.decided())}</td>
                            <td>{pct(f.rejected, f.decided())}</td>
                            <td>{pct(f.corrected, f.decided())}</td>
                            <td>{pct(f.expired, f.decided())}</td>
                            <td>{f.median_wait_label()}</td>
                            <td>{pct(f.succeeded, f.outcomes())}</td>
                            <td>{f.incidents}</td>
                            <td>{f.reviewers}</td>
                        </tr>
                    }
                }).collect_view()}
            </tbody>
        </table>
    }
    .into_any()
}

#[component]
fn Timeline(history: Vec<StageChange>) -> impl IntoView {
    view! {
        <section class="card" aria-labelledby="timeline">
            <h2 id="timeline">"Stage history"</h2>
            <ol class="timeline" data-testid="timeline">
                {history.into_iter().map(|c| {
                    let scope = c.capability.clone().map(|cap| format!(" ({cap})")).unwrap_or_default();
                    let change = match c.from {
                        Some(from) if from != c.to => format!("{} → {}", from.as_str(), c.to.as_str()),
                        _ => c.to.as_str().to_string(),
                    };
                    view! {
                        <li class=format!("tl-{}", c.kind)>
                            <span class="small muted"><TimeText text=c.at/></span>" "
                            <strong>{c.kind.replace('_', " ")}</strong>{scope}": "{change}
                            <div class="small">
                                {c.reason}
                                {c.by.map(|b| format!(" — {b}"))}
                                {c.review_id.map(|id| view! { " " <a href=format!("/reviews/{id}")>"review"</a> })}
                            </div>
                        </li>
                    }
                }).collect_view()}
            </ol>
        </section>
    }
}

#[component]
fn Reviews(rows: Vec<ReviewRow>) -> impl IntoView {
    (!rows.is_empty()).then(|| {
        view! {
            <section class="card">
                <h2>"Promotion reviews"</h2>
                <super::reviews::ReviewTable rows/>
            </section>
        }
    })
}

#[component]
fn OpenForm(
    agent_id: String,
    stage: Stage,
    suspended: bool,
    open: ServerAction<OpenReview>,
) -> impl IntoView {
    let next = Stage::ALL.into_iter().find(|s| *s > stage);
    let default = if suspended {
        stage
    } else {
        next.unwrap_or(stage)
    };
    view! {
        <section class="card" aria-labelledby="promote">
            <h2 id="promote">{if suspended { "Reinstate (promotion review)" } else { "Open a promotion review" }}</h2>
            <p class="muted small">
                "Other leads decide it; you and the agent's sponsor cannot approve it. "
                "The metrics and readiness criteria are frozen into the review when it opens. "
                "Name capabilities to raise only those grants (up to the agent's own stage); leave blank to raise the agent."
            </p>
            <ActionForm action=open attr:class="form">
                <input type="hidden" name="agent_id" value=agent_id/>
                <label>"Target stage"
                    <select name="to_stage">
                        {Stage::ALL.into_iter().filter(|s| *s != Stage::Observe).map(|s| view! {
                            <option value=s.as_str() selected=s == default>{format!("{} {}", s.number(), s.as_str())}</option>
                        }).collect_view()}
                    </select>
                </label>
                <label>"Capabilities (optional, comma-separated)" <input name="capabilities" placeholder="billing.refund"/></label>
                <label>"New hourly limit for those capabilities (optional)" <input name="max_per_hour" inputmode="numeric" size="8"/></label>
                <label>"The case for it" <textarea name="case_text" required rows="3"
                    placeholder="Why this agent has earned it: what it does well, what the record shows"></textarea></label>
                <button type="submit" disabled=move || open.pending().get()>
                    {move || if open.pending().get() { "Opening…" } else { "Open review" }}
                </button>
            </ActionForm>
            {move || match open.value().get() {
                Some(Ok(id)) => view! {
                    <p class="success" role="status">"Review opened: " <a href=format!("/reviews/{id}")>"open it"</a></p>
                }.into_any(),
                Some(Err(e)) => view! { <ErrorNote error=e/> }.into_any(),
                None => ().into_any(),
            }}
        </section>
    }
}
