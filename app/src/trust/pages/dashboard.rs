//! The dashboard (notices for leads, suggestions, what waits), the
//! spot-check queue, and the readiness settings.

use crate::local_time::TimeText;
use crate::trust::model::Criteria;
use crate::trust::views::{SpotCheck, TrustSettings};
use crate::trust::{
    dashboard, get_criteria, spot_checks, ClearNotice, DashboardData, MarkSpotCheck, SaveCriteria,
    SaveSettings,
};
use crate::ui::{ErrorNote, StageBadge};
use leptos::prelude::*;

#[component]
pub fn DashboardPage() -> impl IntoView {
    let clear = ServerAction::<ClearNotice>::new();
    let data = Resource::new(move || clear.version().get(), |_| dashboard());
    view! {
        <h1>"Dashboard"</h1>
        <Transition fallback=|| view! { <p class="muted">"Loading…"</p> }>
            {move || Suspend::new(async move {
                match data.await {
                    Ok(d) => view! { <DashboardView d clear/> }.into_any(),
                    Err(e) => view! { <ErrorNote error=e/> }.into_any(),
                }
            })}
        </Transition>
    }
}

#[component]
fn DashboardView(d: DashboardData, clear: ServerAction<ClearNotice>) -> impl IntoView {
    let s = d.suggestions;
    view! {
        <p>
            <a href="/approvals">"Approval queue"</a> " · "
            <a href="/spot-checks">{format!("Spot checks waiting: {}", d.spot_checks)}</a> " · "
            <a href="/reviews">{format!("Open promotion reviews: {}", d.open_reviews.len())}</a>
        </p>
        {(d.is_lead && !d.notices.is_empty()).then(|| view! {
            <section class="card notices" aria-labelledby="notices">
                <h2 id="notices">"Trust lowered without you"</h2>
                <ul data-testid="notices">
                    {d.notices.into_iter().map(|n| view! {
                        <li class="warning">
                            <span class="small muted"><TimeText text=n.at/></span> " "
                            <a href=format!("/agents/{}", n.agent_id)>{n.agent_name}</a> ": " {n.message}
                            <ActionForm action=clear attr:class="inline">
                                <input type="hidden" name="id" value=n.id/>
                                <button type="submit" class="link">"Dismiss"</button>
                            </ActionForm>
                        </li>
                    }).collect_view()}
                </ul>
            </section>
        })}
        <section class="card" aria-labelledby="suggest-ready">
            <h2 id="suggest-ready">"Ready for the next stage"</h2>
            {if s.ready.is_empty() {
                view! { <p class="muted">"No agent meets every criterion for its next stage."</p> }.into_any()
            } else {
                view! {
                    <ul data-testid="ready">
                        {s.ready.into_iter().map(|r| view! {
                            <li>
                                <a href=format!("/agents/{}#promote", r.agent_id)>{r.agent_name}</a> " "
                                <StageBadge stage=r.from/> " → " <StageBadge stage=r.to/>
                                " — meets every readiness criterion; open a promotion review."
                            </li>
                        }).collect_view()}
                    </ul>
                }.into_any()
            }}
        </section>
        <section class="card" aria-labelledby="suggest-relax">
            <h2 id="suggest-relax">"Controls ready to relax"</h2>
            <p class="muted small">"The same capability and target approved at least 20 times in 30 days, never edited or rejected: propose a scoped grant for it."</p>
            {if s.relax.is_empty() {
                view! { <p class="muted">"None yet."</p> }.into_any()
            } else {
                view! {
                    <ul data-testid="relax">
                        {s.relax.into_iter().map(|r| view! {
                            <li>
                                <a href=format!("/agents/{}", r.agent_id)>{r.agent_name}</a> ": "
                                <code>{r.capability}</code> " on " <code>{r.target}</code>
                                {format!(" — approved {} times without edits", r.approvals)}
                            </li>
                        }).collect_view()}
                    </ul>
                }.into_any()
            }}
        </section>
        <section class="card" aria-labelledby="suggest-brittle">
            <h2 id="suggest-brittle">"Brittle workflows"</h2>
            <p class="muted small">"Rejections plus corrections at 20 % or more of at least 5 human decisions in 30 days."</p>
            {if s.brittle.is_empty() {
                view! { <p class="muted">"None."</p> }.into_any()
            } else {
                view! {
                    <ul data-testid="brittle">
                        {s.brittle.into_iter().map(|b| view! {
                            <li>
                                <a href=format!("/agents/{}", b.agent_id)>{b.agent_name}</a> ": "
                                <code>{b.capability}</code>
                                {format!(" — {} rejected and {} corrected of {} decisions", b.rejected, b.corrected, b.decided)}
                            </li>
                        }).collect_view()}
                    </ul>
                }.into_any()
            }}
        </section>
    }
}

#[component]
pub fn SpotChecksPage() -> impl IntoView {
    let mark = ServerAction::<MarkSpotCheck>::new();
    let rows = Resource::new(move || mark.version().get(), |_| spot_checks());
    view! {
        <h1>"Spot checks"</h1>
        <p class="muted">
            "A share of the actions agents ran without a person, sampled for a look after the fact. "
            "A problem counts as an incident: that capability drops to act_with_approval and the leads are told."
        </p>
        {move || mark.value().get().and_then(Result::err).map(|e| view! { <ErrorNote error=e/> })}
        <Transition fallback=|| view! { <p class="muted">"Loading…"</p> }>
            {move || Suspend::new(async move {
                match rows.await {
                    Ok(rows) if rows.is_empty() => view! { <p class="muted">"Nothing to check."</p> }.into_any(),
                    Ok(rows) => view! {
                        <ul class="spot-checks" data-testid="spot-checks">
                            {rows.into_iter().map(|r| view! { <SpotCheckItem r mark/> }).collect_view()}
                        </ul>
                    }.into_any(),
                    Err(e) => view! { <ErrorNote error=e/> }.into_any(),
                }
            })}
        </Transition>
    }
}

#[component]
fn SpotCheckItem(r: SpotCheck, mark: ServerAction<MarkSpotCheck>) -> impl IntoView {
    let id2 = r.id.clone();
    view! {
        <li class="card">
            <a href=format!("/approvals/{}", r.id)>{r.summary}</a>
            <div class="small muted">
                {format!("{} · {} on {} · {} · ", r.agent_name, r.capability, r.target, r.state)}<TimeText text=r.created_at/>
            </div>
            <ActionForm action=mark attr:class="form inline">
                <input type="hidden" name="id" value=r.id/>
                <input type="hidden" name="verdict" value="fine"/>
                <input type="hidden" name="note" value=""/>
                <button type="submit">"Fine"</button>
            </ActionForm>
            <ActionForm action=mark attr:class="form inline">
                <input type="hidden" name="id" value=id2/>
                <input type="hidden" name="verdict" value="problem"/>
                <label>"What was wrong" <input name="note" required size="40"/></label>
                <button type="submit" class="danger">"Problem"</button>
            </ActionForm>
        </li>
    }
}

#[component]
pub fn ReadinessPage() -> impl IntoView {
    let save = ServerAction::<SaveCriteria>::new();
    let save_settings = ServerAction::<SaveSettings>::new();
    let data = Resource::new(
        move || save.version().get() + save_settings.version().get(),
        |_| get_criteria(),
    );
    view! {
        <h1>"Readiness"</h1>
        <p class="muted">
            "What a promotion review checks, per target stage, over the agent's last 30 days; and how many other leads must approve. "
            "Approving against unmet criteria needs a written override."
        </p>
        {move || match save.value().get() {
            Some(Err(e)) => view! { <ErrorNote error=e/> }.into_any(),
            Some(Ok(crate::change::Saved::Proposed(p))) => view! { <div role="status"><crate::change::ProposedNote proposed=p/></div> }.into_any(),
            _ => ().into_any(),
        }}
        {move || match save_settings.value().get() {
            Some(Err(e)) => view! { <ErrorNote error=e/> }.into_any(),
            Some(Ok(crate::change::Saved::Proposed(p))) => view! { <div role="status"><crate::change::ProposedNote proposed=p/></div> }.into_any(),
            _ => ().into_any(),
        }}
        <Transition fallback=|| view! { <p class="muted">"Loading…"</p> }>
            {move || Suspend::new(async move {
                match data.await {
                    Ok((criteria, settings, can_edit)) => view! {
                        <CriteriaTable criteria can_edit save/>
                        <SettingsForm settings can_edit save=save_settings/>
                    }.into_any(),
                    Err(e) => view! { <ErrorNote error=e/> }.into_any(),
                }
            })}
        </Transition>
    }
}

#[component]
fn CriteriaTable(
    criteria: Vec<Criteria>,
    can_edit: bool,
    save: ServerAction<SaveCriteria>,
) -> impl IntoView {
    let field = move |name: &'static str, v: i64| {
        view! { <input name=name value=v.to_string() inputmode="numeric" size="5" disabled=!can_edit aria-label=name/> }
    };
    view! {
        <table class="table" data-testid="criteria">
            <thead>
                <tr>
                    <th>"Target stage"</th><th>"Min decisions"</th><th>"Min approved %"</th><th>"Max corrected %"</th>
                    <th>"Max incidents"</th><th>"Min reviewers"</th><th>"Min days at stage"</th><th>"Approvals needed"</th><th></th>
                </tr>
            </thead>
            <tbody>
                {criteria.into_iter().map(|c| {
                    let form = format!("criteria-{}", c.stage.as_str());
                    view! {
                        <tr>
                            <td><StageBadge stage=c.stage/></td>
                            <td colspan="8">
                                <ActionForm action=save attr:class="form inline" attr:id=form>
                                    <input type="hidden" name="stage" value=c.stage.as_str()/>
                                    {field("min_decisions", c.min_decisions)}
                                    {field("min_approved_pct", c.min_approved_pct)}
                                    {field("max_corrected_pct", c.max_corrected_pct)}
                                    {field("max_incidents", c.max_incidents)}
                                    {field("min_reviewers", c.min_reviewers)}
                                    {field("min_days_at_stage", c.min_days_at_stage)}
                                    {field("approvals_needed", c.approvals_needed)}
                                    {can_edit.then(|| view! {
                                        <input name="reason" size="18" placeholder="reason, if it asks less" aria-label="reason"/>
                                        <button type="submit">"Save"</button>
                                    })}
                                </ActionForm>
                            </td>
                        </tr>
                    }
                }).collect_view()}
            </tbody>
        </table>
    }
}

#[component]
fn SettingsForm(
    settings: TrustSettings,
    can_edit: bool,
    save: ServerAction<SaveSettings>,
) -> impl IntoView {
    view! {
        <section class="card">
            <h2>"Automatic demotion and spot checks"</h2>
            <ActionForm action=save attr:class="form">
                <label>"A capability drops to act_with_approval after this many rejections…"
                    <input name="spike_rejections" value=settings.spike_rejections.to_string() inputmode="numeric" disabled=!can_edit/>
                </label>
                <label>"…among its last this many human decisions"
                    <input name="spike_window" value=settings.spike_window.to_string() inputmode="numeric" disabled=!can_edit/>
                </label>
                <label>"Share of auto-allowed actions sampled for spot checks (%)"
                    <input name="spot_check_pct" value=settings.spot_check_pct.to_string() inputmode="numeric" disabled=!can_edit/>
                </label>
                {can_edit.then(|| view! {
                    <crate::change::ReasonField/>
                    <button type="submit">"Save settings"</button>
                })}
            </ActionForm>
        </section>
    }
}
