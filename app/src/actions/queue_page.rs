//! `/approvals`: the queue, riskiest first then oldest, with filters in the
//! URL (shareable, and they work before the page hydrates), keyset pages,
//! live updates, and a keyboard flow; and "Decided by me".

use super::pages::StateBadge;
use super::queue_keys::{keyboard, KeyHelp, Selection};
use super::queue_table::QueueTable;
use super::*;
use crate::local_time::LocalTime;
use crate::policy::{RuleKey, Stage};
use crate::ui::ErrorNote;
use leptos_meta::Title;
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
    fn filtered(&self) -> bool {
        self.agent.is_some()
            || self.capability.is_some()
            || self.held_for.is_some()
            || self.stage.is_some()
    }

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
    // The tab says how many wait for this reviewer, so a glance at the tab
    // bar tells. Set from an effect (the browser only), so the server and
    // the hydrating browser render the same title first.
    let for_you = RwSignal::new(None::<i64>);
    Effect::new(move |_| {
        if let Some(Ok(p)) = page.get() {
            for_you.set(Some(p.for_you));
        }
    });
    let help = RwSignal::new(false);
    // The selection lives here, above the table that each read redraws, so
    // it stays on the same request across live updates.
    let sel = Selection::new();
    let rows = Memo::new(move |_| {
        page.get()
            .and_then(Result::ok)
            .map(|p| p.rows)
            .unwrap_or_default()
    });
    Effect::new(move |_| {
        if let Some(Ok(p)) = page.get() {
            let w = wanted.get_untracked();
            sel.saw(&w.href(w.after.as_deref()), &p);
        }
    });
    let approve = ServerAction::<ApproveAction>::new();
    Effect::new(move |_| match approve.value().get() {
        Some(Ok(done)) => {
            let what = format!("{} ({})", done.capability, done.summary);
            let message = if done.state == RequestState::PendingApproval {
                format!("Your approval of {what} is recorded; it needs another reviewer's too.")
            } else {
                format!("Approved {what}. j selects the next request.")
            };
            sel.approved(&done.id, message);
            refresh.update(|n| *n += 1);
        }
        // The error itself is shown below the status.
        Some(Err(_)) => sel.status.set("Nothing was approved.".into()),
        None => {}
    });
    keyboard(rows, sel, approve, help);
    view! {
        <Title text=move || match for_you.get() {
            Some(n) if n > 0 => format!("({n}) Approvals · Belay"),
            _ => "Approvals · Belay".to_string(),
        }/>
        <Transition fallback=|| ()>
            {move || Suspend::new(async move {
                let f = facets.await.unwrap_or_default();
                view! { <Filters facets=f wanted=wanted.get_untracked()/> }
            })}
        </Transition>
        <p class="muted small keys-hint">
            "Keys: " <kbd>"j"</kbd> "/" <kbd>"k"</kbd> " select (its details open below it), "
            <kbd>"Enter"</kbd> " open, " <kbd>"a"</kbd> " approve what is shown, "
            <kbd>"r"</kbd> " reject, " <kbd>"?"</kbd> " "
            <button class="link" on:click=move |_| help.set(true)>"all keys"</button>
        </p>
        <KeyHelp open=help/>
        <crate::runs::OpenEscalations refresh/>
        <p class="key-status" role="status" data-testid="key-status">{move || sel.status.get()}</p>
        {move || approve.value().get().and_then(Result::err).map(|e| view! { <ErrorNote error=e/> })}
        <Transition fallback=|| view! { <p class="muted">"Loading the queue…"</p> }>
            {move || Suspend::new(async move {
                match page.await {
                    Ok(p) => {
                        let w = wanted.get_untracked();
                        let next = p.next.clone().map(|c| w.href(Some(&c)));
                        let first = w.after.is_some().then(|| w.href(None));
                        view! { <QueueTable page=p filtered=w.filtered() first next sel/> }.into_any()
                    }
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
    let set = [
        &wanted.agent,
        &wanted.capability,
        &wanted.held_for,
        &wanted.stage,
    ]
    .into_iter()
    .filter(|v| v.is_some())
    .count();
    let open = set > 0;
    // Folded on narrow screens (open when a filter is set, so it shows what
    // narrows the list); CSS keeps it open on wide ones.
    view! {
        <details class="filters-fold" open=open>
        <summary>{if open { format!("Filters ({set} set)") } else { "Filters".to_string() }}</summary>
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
        </details>
    }
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
                                        <td class="small"><LocalTime ms=r.at_ms/></td>
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
