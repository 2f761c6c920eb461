//! One change request: the exact before and after, the proposer's reason,
//! the decisions, and the forms to decide or withdraw it.

use super::list::of;
use crate::change::{ChangeDetail, Diff};
use crate::governance::{get_change, DecideChange, WithdrawChange};
use crate::local_time::TimeText;
use crate::ui::ErrorNote;
use leptos::prelude::*;
use leptos_router::hooks::use_params_map;

#[component]
pub fn ChangePage() -> impl IntoView {
    let params = use_params_map();
    let id = move || params.read().get("id").unwrap_or_default();
    let decide = ServerAction::<DecideChange>::new();
    let withdraw = ServerAction::<WithdrawChange>::new();
    let detail = Resource::new(
        move || (id(), decide.version().get() + withdraw.version().get()),
        |(id, _)| get_change(id),
    );
    view! {
        <Transition fallback=|| view! { <p class="muted">"Loading the change…"</p> }>
            {move || Suspend::new(async move {
                match detail.await {
                    Ok(d) => view! { <ChangeView d decide withdraw/> }.into_any(),
                    Err(e) => view! { <ErrorNote error=e/> }.into_any(),
                }
            })}
        </Transition>
        {move || decide.value().get().and_then(Result::err).map(|e| view! { <ErrorNote error=e/> })}
        {move || withdraw.value().get().and_then(Result::err).map(|e| view! { <ErrorNote error=e/> })}
    }
}

#[component]
fn ChangeView(
    d: ChangeDetail,
    decide: ServerAction<DecideChange>,
    withdraw: ServerAction<WithdrawChange>,
) -> impl IntoView {
    let r = d.row.clone();
    let id = r.id.clone();
    view! {
        <p><a href="/reviews">"← Reviews"</a></p>
        <h1>{r.kind.title()} ": " {of(&r)}</h1>
        <dl class="facts">
            <dt>"State"</dt><dd data-testid="change-state">{r.state.clone()}</dd>
            <dt>"Proposed"</dt><dd><TimeText text=r.opened_at.clone()/>{format!(" by {}", r.opened_by)}</dd>
            {r.agent_id.clone().map(|a| view! { <dt>"Agent"</dt><dd><a href=format!("/agents/{a}")>{r.agent_name.clone()}</a></dd> })}
            <dt>"Approvals"</dt><dd>{format!("{} of {} from other leads", r.approvals, r.approvals_needed)}</dd>
            {d.closed_at.clone().map(|at| view! { <dt>"Closed"</dt><dd><TimeText text=at/></dd> })}
        </dl>
        <section class="card">
            <h2>"How it raises trust"</h2>
            <ul data-testid="rises">{r.rises.iter().map(|x| view! { <li>{x.clone()}</li> }).collect_view()}</ul>
            <h2>"The reason"</h2>
            <p class="prewrap">{d.reason.clone()}</p>
        </section>
        <section class="card">
            <h2>"Before and after"</h2>
            {d.created.then(|| view! { <p class="muted">"This did not exist before."</p> })}
            <DiffTable rows=d.diff.clone()/>
            <p class="muted small">"Approval applies exactly this; if it changed meanwhile, nothing is applied and the change becomes stale."</p>
        </section>
        <section class="card">
            <h2>"Decisions"</h2>
            {if d.votes.is_empty() {
                view! { <p class="muted">"Nobody has decided yet."</p> }.into_any()
            } else {
                view! {
                    <ul class="votes" data-testid="votes">
                        {d.votes.iter().cloned().map(|v| view! {
                            <li><strong>{v.by}</strong> " " {v.verdict} " (" <TimeText text=v.at/> "): " {v.reason}</li>
                        }).collect_view()}
                    </ul>
                }.into_any()
            }}
            {match d.cannot_vote.clone() {
                Some(why) => view! { <p class="muted" data-testid="cannot-vote">{why}</p> }.into_any(),
                None => view! { <Decide id=id.clone() cannot_approve=d.cannot_approve.clone() decide/> }.into_any(),
            }}
            {d.can_withdraw.then(|| view! {
                <ActionForm action=withdraw attr:class="form inline">
                    <input type="hidden" name="id" value=id.clone()/>
                    <button type="submit" class="link">"Withdraw this change"</button>
                </ActionForm>
            })}
        </section>
    }
}

#[component]
fn DiffTable(rows: Vec<Diff>) -> impl IntoView {
    view! {
        <table class="table diff" data-testid="change-diff">
            <thead><tr><th>"Field"</th><th>"Before"</th><th>"After"</th></tr></thead>
            <tbody>
                {rows.into_iter().map(|d| {
                    let changed = d.changed();
                    view! {
                        <tr class=if changed { "changed" } else { "" }>
                            <td>{d.field}{changed.then_some(" (changed)")}</td>
                            <td class="prewrap">{d.before.unwrap_or_else(|| "—".into())}</td>
                            <td class="prewrap">{d.after.unwrap_or_else(|| "—".into())}</td>
                        </tr>
                    }
                }).collect_view()}
            </tbody>
        </table>
    }
}

#[component]
fn Decide(
    id: String,
    cannot_approve: Option<String>,
    decide: ServerAction<DecideChange>,
) -> impl IntoView {
    let reject_id = id.clone();
    view! {
        {match cannot_approve {
            Some(why) => view! { <p class="muted" data-testid="cannot-approve">{why}</p> }.into_any(),
            None => view! {
                <ActionForm action=decide attr:class="form">
                    <input type="hidden" name="id" value=id/>
                    <input type="hidden" name="verdict" value="approve"/>
                    <label>"Why you approve" <input name="reason" required size="50"/></label>
                    <button type="submit" disabled=move || decide.pending().get()>"Approve this change"</button>
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
