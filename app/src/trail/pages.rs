//! `/audit`: filters live in the URL (a plain GET form, so they work before
//! the page hydrates and can be shared); older pages continue from the last
//! event shown.

use super::{audit_trail, EventRow, TrailFilter, TrailPage};
use crate::local_time::TimeText;
use crate::ui::ErrorNote;
use leptos::prelude::*;
use leptos_router::hooks::use_query_map;

#[component]
pub fn AuditPage() -> impl IntoView {
    let query = use_query_map();
    let wanted = move || {
        let q = query.read();
        let get = |k: &str| q.get(k).unwrap_or_default();
        let filter = TrailFilter {
            actor: get("actor"),
            agent: get("agent"),
            subject_kind: get("subject"),
            what: get("what"),
            from: get("from"),
            to: get("to"),
        };
        (filter, get("before").parse::<i64>().ok())
    };
    let page = Resource::new(wanted, |(filter, before)| audit_trail(Some(filter), before));
    view! {
        <h1>"Audit trail"</h1>
        <p class="muted">
            "Every change Belay made, newest first. Each event is linked to the one before it by "
            "hash, so a change, removal or insertion afterwards shows: "
            <code>"belay audit verify"</code>" checks the whole chain."
        </p>
        <Transition fallback=|| view! { <p class="muted">"Loading the trail…"</p> }>
            {move || Suspend::new(async move {
                let (filter, _) = wanted();
                match page.await {
                    Ok(p) => view! { <Filters filter=filter.clone() page=p.clone()/><Events filter page=p/> }.into_any(),
                    Err(e) => view! { <ErrorNote error=e/> }.into_any(),
                }
            })}
        </Transition>
    }
}

#[component]
fn Filters(filter: TrailFilter, page: TrailPage) -> impl IntoView {
    let choice = |name: &'static str, label: &'static str, values: Vec<String>, chosen: String| {
        view! {
            <label>{label}
                <select name=name aria-label=label>
                    <option value="">"any"</option>
                    {values
                        .into_iter()
                        .map(|v| {
                            let selected = v == chosen;
                            view! { <option value=v.clone() selected=selected>{v.clone()}</option> }
                        })
                        .collect_view()}
                </select>
            </label>
        }
    };
    view! {
        <form method="get" action="/audit" class="filters" aria-label="Filter the audit trail">
            <label>"Actor" <input name="actor" value=filter.actor.clone() placeholder="username or agent"/></label>
            <label>"Agent" <input name="agent" value=filter.agent.clone() placeholder="agent name"/></label>
            {choice("subject", "Subject", page.subjects, filter.subject_kind.clone())}
            {choice("what", "Kind", page.kinds, filter.what.clone())}
            <label>"From" <input type="date" name="from" value=filter.from.clone()/></label>
            <label>"To" <input type="date" name="to" value=filter.to.clone()/></label>
            <button type="submit">"Filter"</button>
            <a href="/audit">"Clear"</a>
        </form>
    }
}

#[component]
fn Events(filter: TrailFilter, page: TrailPage) -> impl IntoView {
    if page.events.is_empty() {
        return view! { <p class="muted" data-testid="trail-empty">"No events match."</p> }
            .into_any();
    }
    let older = page.older.map(|n| {
        let mut parts = vec![format!("before={n}")];
        for (k, v) in [
            ("actor", &filter.actor),
            ("agent", &filter.agent),
            ("subject", &filter.subject_kind),
            ("what", &filter.what),
            ("from", &filter.from),
            ("to", &filter.to),
        ] {
            if !v.is_empty() {
                parts.push(format!("{k}={}", crate::text::query_value(v)));
            }
        }
        format!("/audit?{}", parts.join("&"))
    });
    view! {
        <table class="table" data-testid="trail">
            <thead>
                <tr><th>"#"</th><th>"When"</th><th>"Who"</th><th>"What"</th><th>"Subject"</th><th>"Change"</th></tr>
            </thead>
            <tbody>{page.events.into_iter().map(|e| view! { <EventLine e/> }).collect_view()}</tbody>
        </table>
        {older.map(|href| view! { <p><a href=href>"Older events"</a></p> })}
    }
    .into_any()
}

#[component]
fn EventLine(e: EventRow) -> impl IntoView {
    let who = match &e.actor {
        Some(name) => format!("{} {name}", e.actor_kind),
        None => e.actor_kind.clone(),
    };
    let summary = match e.changes.len() {
        0 => "details".to_string(),
        1 => "1 field".to_string(),
        n => format!("{n} fields"),
    };
    view! {
        <tr data-event=e.n>
            <td>{e.n}</td>
            <td class="small"><TimeText text=e.at.clone()/></td>
            <td>{who}</td>
            <td><code>{e.what.clone()}</code></td>
            <td class="small">{format!("{} {}", e.subject_kind, e.subject_id)}</td>
            <td>
                <details>
                    <summary>{summary}</summary>
                    <table class="diff-table">
                        <thead><tr><th>"Field"</th><th>"Before"</th><th>"After"</th></tr></thead>
                        <tbody>
                            {e.changes.into_iter().map(|(field, before, after)| view! {
                                <tr>
                                    <th scope="row">{field}</th>
                                    <td class="before"><code>{before}</code></td>
                                    <td class="after"><code>{after}</code></td>
                                </tr>
                            }).collect_view()}
                        </tbody>
                    </table>
                    {e.other.into_iter().map(|(k, v)| view! { <p class="small">{k}": "<code>{v}</code></p> }).collect_view()}
                </details>
            </td>
        </tr>
    }
}
