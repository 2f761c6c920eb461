//! One promotion review: its frozen snapshot, the case, the votes, and the
//! forms to decide it (through the one change-request decision).

use crate::governance::{DecideChange, WithdrawChange};
use crate::local_time::TimeText;
use crate::trust::model::pct;
use crate::trust::views::ReviewDetail;
use crate::trust::{get_review, scope, what_if_text, CheckList};
use crate::ui::{ErrorNote, StageBadge};
use leptos::prelude::*;
use leptos_router::hooks::use_params_map;

#[component]
pub fn ReviewPage() -> impl IntoView {
    let params = use_params_map();
    let id = move || params.read().get("id").unwrap_or_default();
    let decide = ServerAction::<DecideChange>::new();
    let withdraw = ServerAction::<WithdrawChange>::new();
    let detail = Resource::new(
        move || (id(), decide.version().get() + withdraw.version().get()),
        |(id, _)| get_review(id),
    );
    view! {
        <Transition fallback=|| view! { <p class="muted">"Loading review…"</p> }>
            {move || Suspend::new(async move {
                match detail.await {
                    Ok(d) => view! { <ReviewView d decide withdraw/> }.into_any(),
                    Err(e) => view! { <ErrorNote error=e/> }.into_any(),
                }
            })}
        </Transition>
        {move || decide.value().get().and_then(Result::err).map(|e| view! { <ErrorNote error=e/> })}
        {move || withdraw.value().get().and_then(Result::err).map(|e| view! { <ErrorNote error=e/> })}
    }
}

#[component]
fn ReviewView(
    d: ReviewDetail,
    decide: ServerAction<DecideChange>,
    withdraw: ServerAction<WithdrawChange>,
) -> impl IntoView {
    let r = d.row.clone();
    let s = d.snapshot.clone();
    let needs_override = !r.criteria_met || d.skips_stages;
    view! {
        <p><a href="/reviews">"← Promotion reviews"</a></p>
        <h1>
            {if r.reinstate { "Reinstate " } else { "Promote " }}
            <a href=format!("/agents/{}", r.agent_id)>{r.agent_name.clone()}</a>
            " " <StageBadge stage=r.from/> " → " <StageBadge stage=r.to/>
        </h1>
        <dl class="facts">
            <dt>"State"</dt><dd data-testid="review-state">{r.state.clone()}</dd>
            <dt>"Scope"</dt><dd>{scope(&r)}</dd>
            {d.max_per_hour.map(|n| view! { <dt>"New hourly limit"</dt><dd>{n}</dd> })}
            <dt>"Opened"</dt><dd><TimeText text=r.opened_at.clone()/>{format!(" by {}", r.opened_by)}</dd>
            <dt>"Sponsor"</dt><dd>{d.sponsor.clone()}</dd>
            <dt>"Approvals"</dt><dd>{format!("{} of {} from other leads", r.approvals, r.approvals_needed)}</dd>
            {d.closed_at.clone().map(|at| view! { <dt>"Closed"</dt><dd><TimeText text=at/></dd> })}
        </dl>
        <section class="card">
            <h2>"The case"</h2>
            <p class="prewrap">{d.case_text.clone()}</p>
        </section>
        <section class="card">
            <h2>"Readiness (frozen " <TimeText text=s.taken_at.clone()/> ")"</h2>
            {if r.criteria_met {
                view! { <p class="success">"Every criterion for " {r.to.as_str()} " was met."</p> }.into_any()
            } else {
                view! { <p class="warning">"Not every criterion was met: approving needs an override with a reason."</p> }.into_any()
            }}
            {d.skips_stages.then(|| view! { <p class="warning">"This review skips a stage: approving needs an override with a reason."</p> })}
            <CheckList checks=s.checks.clone()/>
            <table class="table metrics">
                <thead><tr><th></th>{s.figures.iter().map(|f| view! { <th>{format!("{} days", f.days)}</th> }).collect_view()}</tr></thead>
                <tbody>
                    <tr><th scope="row">"Human decisions"</th>{s.figures.iter().map(|f| view! { <td>{f.decided()}</td> }).collect_view()}</tr>
                    <tr><th scope="row">"Approved"</th>{s.figures.iter().map(|f| view! { <td>{pct(f.approved, f.decided())}</td> }).collect_view()}</tr>
                    <tr><th scope="row">"Corrected"</th>{s.figures.iter().map(|f| view! { <td>{pct(f.corrected, f.decided())}</td> }).collect_view()}</tr>
                    <tr><th scope="row">"Incidents"</th>{s.figures.iter().map(|f| view! { <td>{f.incidents}</td> }).collect_view()}</tr>
                    <tr><th scope="row">"Distinct reviewers"</th>{s.figures.iter().map(|f| view! { <td>{f.reviewers}</td> }).collect_view()}</tr>
                </tbody>
            </table>
            <h3>"What if"</h3>
            <p data-testid="what-if">{what_if_text(&s.what_if)}</p>
        </section>
        <section class="card">
            <h2>"Decisions"</h2>
            {if d.votes.is_empty() {
                view! { <p class="muted">"Nobody has decided yet."</p> }.into_any()
            } else {
                view! {
                    <ul class="votes" data-testid="votes">
                        {d.votes.iter().cloned().map(|v| view! {
                            <li>
                                <strong>{v.by}</strong> " " {v.verdict} " (" <TimeText text=v.at/> "): " {v.reason}
                                {v.override_reason.map(|o| view! { <div class="warning small">"Override: " {o}</div> })}
                            </li>
                        }).collect_view()}
                    </ul>
                }.into_any()
            }}
            {match d.cannot_vote.clone() {
                Some(why) => view! { <p class="muted" data-testid="cannot-vote">{why}</p> }.into_any(),
                None => view! { <VoteForms id=r.id.clone() needs_override cannot_approve=d.cannot_approve.clone() decide/> }.into_any(),
            }}
            {d.can_withdraw.then(|| view! {
                <ActionForm action=withdraw attr:class="form inline">
                    <input type="hidden" name="id" value=r.id.clone()/>
                    <button type="submit" class="link">"Withdraw this review"</button>
                </ActionForm>
            })}
        </section>
    }
}

#[component]
fn VoteForms(
    id: String,
    needs_override: bool,
    cannot_approve: Option<String>,
    decide: ServerAction<DecideChange>,
) -> impl IntoView {
    let reject_id = id.clone();
    view! {
        {match cannot_approve {
            Some(why) => view! { <p class="muted">{why}</p> }.into_any(),
            None => view! {
                <ActionForm action=decide attr:class="form">
                    <input type="hidden" name="id" value=id/>
                    <input type="hidden" name="verdict" value="approve"/>
                    <label>"Why you approve" <input name="reason" required size="50"/></label>
                    {needs_override.then(|| view! {
                        <label>"Override: why it should go ahead anyway"
                            <input name="override_reason" required size="50"/>
                        </label>
                    })}
                    <button type="submit" disabled=move || decide.pending().get()>
                        {if needs_override { "Approve with override" } else { "Approve promotion" }}
                    </button>
                </ActionForm>
            }.into_any(),
        }}
        <ActionForm action=decide attr:class="form inline">
            <input type="hidden" name="id" value=reject_id/>
            <input type="hidden" name="verdict" value="reject"/>
            <label>"Reason for rejecting" <input name="reason" required size="40"/></label>
            <button type="submit" class="danger" disabled=move || decide.pending().get()>"Reject"</button>
        </ActionForm>
    }
}
