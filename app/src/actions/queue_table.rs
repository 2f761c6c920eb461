//! One page of the queue as a table; the selected request opens below its
//! row with the params an approval approves and its evidence, so `a` never
//! approves what the reviewer has not seen. On narrow screens CSS draws each
//! row as a card, labelling its cells from `data-label`.

use super::model::{QueuePage, QueueRow};
use super::queue_keys::{Selection, DETAIL_ID};
use crate::evidence::{human_size, EvidenceInfo};
use crate::local_time::Waited;
use crate::policy::RuleKey;
use crate::ui::StageBadge;
use leptos::prelude::*;

/// `filtered`: some filter is set. `first` and `next`: links to the first
/// and the next page, where there are such.
#[component]
pub(super) fn QueueTable(
    page: QueuePage,
    filtered: bool,
    first: Option<String>,
    next: Option<String>,
    sel: Selection,
) -> impl IntoView {
    let now = page.now_ms;
    let rows = StoredValue::new(page.rows.clone());
    let summary = if filtered {
        format!(
            "{} of {} waiting match these filters",
            page.matching, page.waiting
        )
    } else {
        format!("{} waiting", page.waiting)
    };
    if page.rows.is_empty() {
        return view! {
            <p class="muted" data-testid="queue-count">{summary}</p>
            <p class="muted">{if filtered { "Nothing waiting matches these filters." } else { "Nothing is waiting for approval." }}</p>
        }
        .into_any();
    }
    view! {
        <p class="muted" data-testid="queue-count">{summary} ", riskiest first, then longest waiting"</p>
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
                    let id = r.id.clone();
                    let is_selected = Memo::new(move |_| sel.id.with(|s| s.as_deref() == Some(id.as_str())));
                    let detail = r.clone();
                    view! {
                        <tr class:selected=is_selected aria-selected=move || is_selected.get().to_string()
                            data-risk=r.risk.to_string() data-id=r.id.clone()
                            on:click=move |_| rows.with_value(|rows| sel.pick(rows, i))>
                            <td class="what">
                                <a href=format!("/approvals/{}", r.id)><code>{r.capability.clone()}</code></a>
                                <div class="small">{r.summary.clone()}</div>
                            </td>
                            <td data-label="Agent">{r.agent_name.clone()} " " <StageBadge stage=r.stage/></td>
                            <td data-label="Held for"><HeldFor keys=r.held_for.clone() triggers=r.triggers.clone() known=r.capability_known/></td>
                            <td class="small" data-label="Approvals">{format!("{} of {}", r.approvals, r.approvals_required)}</td>
                            <td class="small" data-label="Target">{r.target.clone()}</td>
                            <td class="small" data-label="Waiting"><Waited from_ms=r.created_at_ms now_ms=now/></td>
                        </tr>
                        {move || is_selected.get().then(|| view! { <Detail row=detail.clone()/> })}
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

/// The selected request's params and evidence, under its row. The key reads
/// `data-id` and `data-hash` from here: it approves what this shows.
#[component]
fn Detail(row: QueueRow) -> impl IntoView {
    let heading = if row.edited {
        "Params, as a reviewer edited them (what a approves)"
    } else {
        "Params (what a approves)"
    };
    view! {
        <tr class="detail">
            <td colspan="6">
                <section id=DETAIL_ID data-testid="queue-detail" data-id=row.id.clone()
                    data-hash=row.payload_hash.clone() aria-label="The selected request">
                    <h3 class="small">{heading}</h3>
                    <pre class="params">{row.params.clone()}{row.params_cut.then_some("\n…")}</pre>
                    {row.params_cut.then(|| view! {
                        <p class="small muted">"Cut short here: press Enter to read them all and decide on its page."</p>
                    })}
                    <p class="small" data-testid="queue-evidence">{evidence_line(&row.evidence)}</p>
                    <p class="small muted">
                        <kbd>"a"</kbd> " approves exactly this · " <kbd>"Enter"</kbd>
                        " opens it with the evidence · " <kbd>"r"</kbd> " rejects it"
                    </p>
                </section>
            </td>
        </tr>
    }
}

/// Why a queued request is held: the recorded reasons (triggers and
/// computed ones such as first use).
#[component]
fn HeldFor(
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

/// "Evidence (2): plan 1.2 KiB, screenshot 40.0 KiB".
fn evidence_line(pieces: &[EvidenceInfo]) -> String {
    if pieces.is_empty() {
        return "Evidence: none".into();
    }
    let each = pieces
        .iter()
        .map(|p| format!("{} {}", p.kind, human_size(p.size_bytes)))
        .collect::<Vec<_>>()
        .join(", ");
    format!("Evidence ({}): {each}", pieces.len())
}
