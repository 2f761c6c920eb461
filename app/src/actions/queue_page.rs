//! `/approvals`: the queue, riskiest first then oldest, with filters in the
//! URL (shareable, and they work before the page hydrates), keyset pages,
//! live updates, and a keyboard flow; and "Decided by me".

use super::model::age;
use super::pages::StateBadge;
use super::queue_keys::{keyboard, KeyHelp};
use super::*;
use crate::clock;
use crate::policy::{RuleKey, Stage};
use crate::ui::{ErrorNote, StageBadge};
use leptos_router::hooks::use_query_map;

#[component]
pub fn ApprovalsPage() -> impl IntoView {
    let query = use_query_map();
    let mine = move || query.read().get("view").as_deref() == Some("mine");
    view! {
        <div class="heading">
            <h1>"Approvals"</h1>
            <nav class="tabs" aria-label="Approval lists">
                <a href="/approvals" aria-current=move || (!mine()).then_some("page")>"Waiting"</a>
                <a href="/approvals?view=mine" aria-current=move || mine().then_some("page")>"Decided by me"</a>
            </nav>
        </div>
        {move || if mine() { view! { <DecidedByMe/> }.into_any() } else { view! { <Queue/> }.into_any() }}
    }
}

/// The filters and cursor, as the URL has them.
#[derive(Clone, PartialEq)]
struct Wanted {
    agent: Option<String>,
    capability: Option<String>,
    held_for: Option<String>,
    stage: Option<String>,
    after: Option<String>,
}

impl Wanted {
    /// The URL of this filter, from its first page.
    fn href(&self, after: Option<&str>) -> String {
        let mut parts = vec![];
        for (k, v) in [
            ("agent", &self.agent),
            ("capability", &self.capability),
            ("held_for", &self.held_for),
            ("stage", &self.stage),
        ] {
            if let Some(v) = v {
                parts.push(format!("{k}={}", crate::text::query_value(v)));
            }
        }
        if let Some(a) = after {
            parts.push(format!("after={}", crate::text::query_value(a)));
        }
        if parts.is_empty() {
            "/approvals".into()
        } else {
            format!("/approvals?{}", parts.join("&"))
        }
    }
}

#[component]
fn Queue() -> impl IntoView {
    let query = use_query_map();
    let wanted = Memo::new(move |_| {
        let q = query.read();
        let get = |k: &str| q.get(k).filter(|v| !v.is_empty());
        Wanted {
            agent: get("agent"),
            capability: get("capability"),
            held_for: get("held_for"),
            stage: get("stage"),
            after: get("after"),
        }
    });
    // Bumped by live updates and after a keyboard approval.
    let refresh = RwSignal::new(0u32);
    let page = Resource::new(
        move || (wanted.get(), refresh.get()),
        |(w, _)| fetch_queue(w.agent, w.capability, w.held_for, w.stage, w.after),
    );
    let facets = Resource::new(move || refresh.get(), |_| fetch_queue_facets());
    live_updates(refresh);
    let help = RwSignal::new(false);
    view! {
        <Transition fallback=|| ()>
            {move || Suspend::new(async move {
                let f = facets.await.unwrap_or_default();
                view! { <Filters facets=f wanted=wanted.get_untracked()/> }
            })}
        </Transition>
        <p class="muted small">
            "Keys: " <kbd>"j"</kbd> "/" <kbd>"k"</kbd> " move, " <kbd>"Enter"</kbd> " open, "
            <kbd>"a"</kbd> " approve, " <kbd>"r"</kbd> " reject, " <kbd>"?"</kbd> " "
            <button class="link" on:click=move |_| help.set(true)>"all keys"</button>
        </p>
        <KeyHelp open=help/>
        <Transition fallback=|| view! { <p class="muted">"Loading the queue…"</p> }>
            {move || Suspend::new(async move {
                match page.await {
                    Ok(p) => view! { <QueueTable page=p wanted=wanted.get_untracked() refresh help/> }.into_any(),
                    Err(e) => view! { <ErrorNote error=e/> }.into_any(),
                }
            })}
        </Transition>
    }
}

/// New and decided requests show up without a reload: the server pushes an
/// event on every change (server-sent events), and the list re-reads itself
/// at most twice a second. Every 30 s it re-reads anyway, for changes made
/// on other replicas.
fn live_updates(refresh: RwSignal<u32>) {
    #[cfg(feature = "hydrate")]
    {
        use std::cell::Cell;
        use std::rc::Rc;
        use wasm_bindgen::closure::Closure;
        use wasm_bindgen::JsCast;
        let Ok(source) = web_sys::EventSource::new("/approvals/events") else {
            return;
        };
        let queued = Rc::new(Cell::new(false));
        let on_change = Closure::<dyn FnMut(web_sys::MessageEvent)>::new(move |_| {
            if queued.replace(true) {
                return;
            }
            let queued = queued.clone();
            set_timeout(
                move || {
                    queued.set(false);
                    refresh.update(|n| *n += 1);
                },
                std::time::Duration::from_millis(500),
            );
        });
        source.set_onmessage(Some(on_change.as_ref().unchecked_ref()));
        on_change.forget();
        let tick = set_interval_with_handle(
            move || refresh.update(|n| *n += 1),
            std::time::Duration::from_secs(30),
        )
        .ok();
        on_cleanup(move || {
            source.close();
            if let Some(t) = tick {
                t.clear();
            }
        });
    }
    #[cfg(not(feature = "hydrate"))]
    let _ = refresh;
}

#[component]
fn Filters(facets: QueueFacets, wanted: Wanted) -> impl IntoView {
    let selected = |v: &Option<String>, option: &str| v.as_deref() == Some(option);
    view! {
        <form method="get" action="/approvals" class="filters" aria-label="Filter the queue">
            <label>"Agent"
                <select name="agent">
                    <option value="">"any"</option>
                    {facets.agents.into_iter().map(|(id, name, n)| {
                        let sel = selected(&wanted.agent, &id);
                        view! { <option value=id selected=sel>{format!("{name} ({n})")}</option> }
                    }).collect_view()}
                </select>
            </label>
            <label>"Capability"
                <select name="capability">
                    <option value="">"any"</option>
                    {facets.capabilities.into_iter().map(|(c, n)| {
                        let sel = selected(&wanted.capability, &c);
                        view! { <option value=c.clone() selected=sel>{format!("{c} ({n})")}</option> }
                    }).collect_view()}
                </select>
            </label>
            <label>"Held for"
                <select name="held_for">
                    <option value="">"any reason"</option>
                    {RuleKey::ALL.into_iter().map(|k| {
                        let sel = selected(&wanted.held_for, k.as_str());
                        view! { <option value=k.as_str() selected=sel>{k.as_str()}</option> }
                    }).collect_view()}
                </select>
            </label>
            <label>"Stage"
                <select name="stage">
                    <option value="">"any"</option>
                    {Stage::ALL.into_iter().map(|s| {
                        let sel = selected(&wanted.stage, s.as_str());
                        view! { <option value=s.as_str() selected=sel>{s.as_str()}</option> }
                    }).collect_view()}
                </select>
            </label>
            <button type="submit">"Filter"</button>
            <a href="/approvals">"Clear"</a>
        </form>
    }
}

#[component]
fn QueueTable(
    page: QueuePage,
    wanted: Wanted,
    refresh: RwSignal<u32>,
    help: RwSignal<bool>,
) -> impl IntoView {
    let now = page.now_ms;
    let rows = StoredValue::new(page.rows.clone());
    let selected = RwSignal::new(0usize);
    let approve = ServerAction::<ApproveAction>::new();
    Effect::new(move |_| {
        if let Some(Ok(_)) = approve.value().get() {
            refresh.update(|n| *n += 1);
        }
    });
    keyboard(rows, selected, approve, help);
    let filtered = wanted.agent.is_some()
        || wanted.capability.is_some()
        || wanted.held_for.is_some()
        || wanted.stage.is_some();
    let summary = if filtered {
        format!(
            "{} of {} waiting match these filters",
            page.matching, page.waiting
        )
    } else {
        format!("{} waiting", page.waiting)
    };
    let next = page.next.clone().map(|c| wanted.href(Some(&c)));
    let first = wanted.after.is_some().then(|| wanted.href(None));
    if page.rows.is_empty() {
        return view! {
            <p class="muted" data-testid="queue-count">{summary}</p>
            <p class="muted">{if filtered { "Nothing waiting matches these filters." } else { "Nothing is waiting for approval." }}</p>
        }
        .into_any();
    }
    view! {
        <p class="muted" data-testid="queue-count">{summary} ", riskiest first, then longest waiting"</p>
        {move || approve.value().get().and_then(Result::err).map(|e| view! { <ErrorNote error=e/> })}
        <table class="table queue" aria-label="Requests waiting for approval">
            <thead>
                <tr>
                    <th scope="col">"Action"</th>
                    <th scope="col">"Agent"</th>
                    <th scope="col">"Held for"</th>
                    <th scope="col">"Approvals"</th>
                    <th scope="col">"Target"</th>
                    <th scope="col">"Waiting"</th>
                </tr>
            </thead>
            <tbody>
                {page.rows.into_iter().enumerate().map(|(i, r)| {
                    let is_selected = move || selected.get() == i;
                    view! {
                        <tr class:selected=is_selected aria-selected=move || is_selected().to_string()
                            data-risk=r.risk.to_string() on:click=move |_| selected.set(i)>
                            <td>
                                <a href=format!("/approvals/{}", r.id)><code>{r.capability.clone()}</code></a>
                                <div class="small">{r.summary.clone()}</div>
                            </td>
                            <td>{r.agent_name.clone()} " " <StageBadge stage=r.stage/></td>
                            <td><HeldFor keys=r.held_for.clone() triggers=r.triggers.clone() known=r.capability_known/></td>
                            <td class="small">{format!("{} of {}", r.approvals, r.approvals_required)}</td>
                            <td class="small">{r.target.clone()}</td>
                            <td class="small" title=clock::display(r.created_at_ms)>{age(r.created_at_ms, now)}</td>
                        </tr>
                    }
                }).collect_view()}
            </tbody>
        </table>
        <nav class="pager" aria-label="Queue pages">
            {first.map(|href| view! { <a href=href>"← First page"</a> })}
            {next.map(|href| view! { <a href=href rel="next" data-testid="next-page">"Next page →"</a> })}
        </nav>
    }
    .into_any()
}

#[component]
fn DecidedByMe() -> impl IntoView {
    let rows = Resource::new(|| (), |_| decided_by_me());
    view! {
        <Transition fallback=|| view! { <p class="muted">"Loading…"</p> }>
            {move || Suspend::new(async move {
                match rows.await {
                    Ok(rows) if rows.is_empty() => view! { <p class="muted">"You have not decided anything yet."</p> }.into_any(),
                    Ok(rows) => view! {
                        <table class="table" data-testid="mine">
                            <thead><tr><th scope="col">"Action"</th><th scope="col">"Agent"</th><th scope="col">"You"</th><th scope="col">"Now"</th><th scope="col">"When"</th></tr></thead>
                            <tbody>
                                {rows.into_iter().map(|r| view! {
                                    <tr>
                                        <td><a href=format!("/approvals/{}", r.id)><code>{r.capability}</code></a><div class="small">{r.summary}</div></td>
                                        <td>{r.agent_name}</td>
                                        <td>{r.verdict}</td>
                                        <td><StateBadge state=r.state/></td>
                                        <td class="small">{clock::display(r.at_ms)}</td>
                                    </tr>
                                }).collect_view()}
                            </tbody>
                        </table>
                    }.into_any(),
                    Err(e) => view! { <ErrorNote error=e/> }.into_any(),
                }
            })}
        </Transition>
    }
}

/// Why a queued request is held: the recorded reasons (triggers and
/// computed ones such as first use).
#[component]
pub(super) fn HeldFor(
    keys: Vec<RuleKey>,
    triggers: Vec<crate::policy::Trigger>,
    known: bool,
) -> impl IntoView {
    if keys.is_empty() {
        return view! { <crate::ui::TriggerList triggers known/> }.into_any();
    }
    keys.into_iter()
        .map(|k| view! { <span class="badge trigger">{k.as_str()}</span> " " })
        .collect_view()
        .into_any()
}
