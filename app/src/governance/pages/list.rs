//! Everything waiting for a second lead, in one place; and, for admins, the
//! one-person setting.

use crate::change::ChangeRow;
use crate::governance::{list_changes, one_person_mode, SetOnePersonMode};
use crate::local_time::TimeText;
use crate::trust::{list_reviews, ReviewTable};
use crate::ui::ErrorNote;
use leptos::prelude::*;

#[component]
pub fn ReviewsPage() -> impl IntoView {
    let set_mode = ServerAction::<SetOnePersonMode>::new();
    let reviews = Resource::new(|| (), |_| list_reviews());
    let changes = Resource::new(|| (), |_| list_changes());
    let me = Resource::new(|| (), |_| crate::auth::current_user());
    let mode = Resource::new(move || set_mode.version().get(), |_| one_person_mode());
    view! {
        <h1>"Reviews"</h1>
        <p class="muted">
            "Every rise in trust waits here for a lead other than the one who proposed it (and never the agent's sponsor): "
            "promotions, agents registered above propose, wider grants, fewer risk triggers, relaxed policy, lower readiness criteria."
        </p>
        <h2>"Changes"</h2>
        <Transition fallback=|| view! { <p class="muted">"Loading changes…"</p> }>
            {move || Suspend::new(async move {
                match changes.await {
                    Ok(rows) if rows.is_empty() => view! { <p class="muted">"No changes proposed yet."</p> }.into_any(),
                    Ok(rows) => view! { <ChangeTable rows/> }.into_any(),
                    Err(e) => view! { <ErrorNote error=e/> }.into_any(),
                }
            })}
        </Transition>
        <h2>"Promotion reviews"</h2>
        <p class="muted">"Open one from an agent's page. Readiness criteria are on the " <a href="/readiness">"Readiness"</a> " page."</p>
        <Transition fallback=|| view! { <p class="muted">"Loading reviews…"</p> }>
            {move || Suspend::new(async move {
                match reviews.await {
                    Ok(rows) if rows.is_empty() => view! { <p class="muted">"No promotion reviews yet."</p> }.into_any(),
                    Ok(rows) => view! { <ReviewTable rows/> }.into_any(),
                    Err(e) => view! { <ErrorNote error=e/> }.into_any(),
                }
            })}
        </Transition>
        <Transition fallback=|| ()>
            {move || Suspend::new(async move {
                let admin = matches!(me.await, Ok(Some(u)) if u.role.can_administer());
                let on = mode.await.unwrap_or(false);
                admin.then(|| view! { <ModeForm on set_mode/> })
            })}
        </Transition>
    }
}

#[component]
fn ChangeTable(rows: Vec<ChangeRow>) -> impl IntoView {
    view! {
        <table class="table" data-testid="changes">
            <thead>
                <tr><th>"Change"</th><th>"Of"</th><th>"How it raises trust"</th><th>"State"</th><th>"Proposed"</th></tr>
            </thead>
            <tbody>
                {rows.into_iter().map(|r| view! {
                    <tr>
                        <td><a href=format!("/changes/{}", r.id)>{r.kind.title()}</a></td>
                        <td>{of(&r)}</td>
                        <td>{r.rises.join("; ")}</td>
                        <td>{format!("{} ({} of {} approvals)", r.state, r.approvals, r.approvals_needed)}</td>
                        <td class="small"><TimeText text=r.opened_at/>{format!(" by {}", r.opened_by)}</td>
                    </tr>
                }).collect_view()}
            </tbody>
        </table>
    }
}

/// What the change is of, in words: the agent and the thing.
pub fn of(r: &ChangeRow) -> String {
    match (&r.agent_name, r.subject.as_str()) {
        (Some(agent), "") => agent.clone(),
        (Some(agent), s) => format!("{agent}: {s}"),
        (None, s) => s.to_string(),
    }
}

#[component]
fn ModeForm(on: bool, set_mode: ServerAction<SetOnePersonMode>) -> impl IntoView {
    view! {
        <section class="card" data-testid="one-person-setting">
            <h2>"One-person changes"</h2>
            <p>
                {if on {
                    "Allowed: one lead can raise trust alone, and every page says so. Each such change is recorded as one person's."
                } else {
                    "Off: every rise in trust needs a second lead."
                }}
            </p>
            <p class="muted small">"Only for an installation with a single lead. Admins switch it; the switch and its reason are audited."</p>
            <ActionForm action=set_mode attr:class="form">
                <input type="hidden" name="on" value=if on { "off" } else { "on" }/>
                <label>"Reason" <input name="reason" required size="50"/></label>
                <button type="submit" class=if on { "" } else { "danger" }>
                    {if on { "Require a second lead again" } else { "Allow one-person changes" }}
                </button>
            </ActionForm>
            {move || set_mode.value().get().and_then(Result::err).map(|e| view! { <ErrorNote error=e/> })}
        </section>
    }
}

/// Shown on every page while one person may raise trust alone.
#[component]
pub fn OnePersonBanner() -> impl IntoView {
    let location = leptos_router::hooks::use_location();
    let on = Resource::new(move || location.pathname.get(), |_| one_person_mode());
    view! {
        <Transition fallback=|| ()>
            {move || Suspend::new(async move {
                matches!(on.await, Ok(true)).then(|| view! {
                    <div class="banner warning" role="alert" data-testid="one-person-banner">
                        "One-person changes are allowed: a single lead can raise an agent's trust without a second lead. "
                        <a href="/reviews">"An admin can require a second lead again."</a>
                    </div>
                })
            })}
        </Transition>
    }
}
