//! The viewer: one tab per piece of evidence, each drawn for its type.

use super::bounds;
use super::shape::{self, SideBySide};
use super::{load_evidence_text, EvidenceInfo, EvidenceText};
use crate::ui::ErrorNote;
use leptos::prelude::*;
use serde_json::Value;

#[component]
pub fn EvidenceViewer(evidence: Vec<EvidenceInfo>) -> impl IntoView {
    if evidence.is_empty() {
        return view! { <p class="muted">"No evidence attached."</p> }.into_any();
    }
    let pieces = StoredValue::new(evidence);
    let selected = RwSignal::new(0usize);
    let labels = pieces.with_value(|p| tab_labels(p));
    view! {
        <div class="tabs evidence-tabs" role="tablist" aria-label="Evidence">
            {labels.into_iter().enumerate().map(|(i, label)| view! {
                <button type="button" role="tab" id=format!("evidence-tab-{i}")
                    aria-selected=move || (selected.get() == i).to_string()
                    aria-controls="evidence-panel"
                    class:active=move || selected.get() == i
                    on:click=move |_| selected.set(i)>
                    {label}
                </button>
            }).collect_view()}
        </div>
        <div class="evidence-panel" id="evidence-panel" role="tabpanel"
            aria-labelledby=move || format!("evidence-tab-{}", selected.get())>
            {move || {
                let piece = pieces.with_value(|p| p[selected.get()].clone());
                view! { <Piece piece/> }
            }}
        </div>
    }
    .into_any()
}

/// "screenshot", or "screenshot 2" when a type repeats; outcome evidence is
/// marked as sent after the fact.
fn tab_labels(pieces: &[EvidenceInfo]) -> Vec<String> {
    pieces
        .iter()
        .enumerate()
        .map(|(i, p)| {
            let n = pieces[..=i].iter().filter(|q| q.kind == p.kind).count();
            let repeated = pieces.iter().filter(|q| q.kind == p.kind).count() > 1;
            let mut label = if repeated {
                format!("{} {n}", p.kind)
            } else {
                p.kind.clone()
            };
            if p.phase == "outcome" {
                label.push_str(" (outcome)");
            }
            label
        })
        .collect()
}

#[component]
fn Piece(piece: EvidenceInfo) -> impl IntoView {
    let raw = format!("/evidence/{}/raw", piece.id);
    let about = format!(
        "{} · {} · SHA-256 {}",
        piece.media_type,
        human_size(piece.size_bytes),
        piece.sha256
    );
    let body = match piece.kind.as_str() {
        "screenshot" => view! { <Screenshot src=raw.clone()/> }.into_any(),
        "dom_snapshot" => view! { <Snapshot id=piece.id.clone() src=raw.clone()/> }.into_any(),
        _ => view! { <TextPiece id=piece.id.clone()/> }.into_any(),
    };
    view! {
        <p class="muted small evidence-about">{about} " · " <a href=raw target="_blank" rel="noopener">"raw"</a></p>
        {body}
    }
}

#[component]
fn Screenshot(src: String) -> impl IntoView {
    // Zoom: None fits the width; Some(p) shows it at p percent.
    let zoom = RwSignal::new(None::<u32>);
    let style = move || match zoom.get() {
        None => "max-width: 100%".to_string(),
        Some(p) => format!("width: {p}%; max-width: none"),
    };
    view! {
        <div class="inline zoom" role="group" aria-label="Zoom">
            <button type="button" class="secondary" aria-pressed=move || zoom.get().is_none().to_string()
                on:click=move |_| zoom.set(None)>"Fit"</button>
            <button type="button" class="secondary" aria-pressed=move || (zoom.get() == Some(100)).to_string()
                on:click=move |_| zoom.set(Some(100))>"100%"</button>
            <button type="button" class="secondary" aria-pressed=move || (zoom.get() == Some(200)).to_string()
                on:click=move |_| zoom.set(Some(200))>"200%"</button>
            <a href=src.clone() target="_blank" rel="noopener">"Full size"</a>
        </div>
        // Focusable, so a keyboard can scroll a zoomed screenshot too.
        <div class="screenshot" tabindex="0" role="region" aria-label="Screenshot, scrollable when zoomed">
            <img src=src style=style alt="Screenshot the agent attached to this request"/>
        </div>
    }
}

/// A DOM snapshot renders only inside a frame sandboxed with no
/// permissions at all, from a response whose CSP forbids scripts and every
/// request; its source is shown as text.
#[component]
fn Snapshot(id: String, src: String) -> impl IntoView {
    let source = RwSignal::new(false);
    view! {
        <div class="inline">
            <button type="button" class="secondary" aria-pressed=move || (!source.get()).to_string()
                on:click=move |_| source.set(false)>"Rendered"</button>
            <button type="button" class="secondary" aria-pressed=move || source.get().to_string()
                on:click=move |_| source.set(true)>"Source"</button>
            <span class="muted small">"Scripts, forms and network are disabled in the rendering."</span>
        </div>
        {move || if source.get() {
            view! { <TextPiece id=id.clone()/> }.into_any()
        } else {
            view! {
                <iframe class="snapshot" sandbox="" src=src.clone() title="DOM snapshot, rendered without scripts"
                    referrerpolicy="no-referrer"></iframe>
            }
            .into_any()
        }}
    }
}

#[component]
fn TextPiece(id: String) -> impl IntoView {
    let text = Resource::new(move || id.clone(), load_evidence_text);
    view! {
        <Suspense fallback=|| view! { <p class="muted">"Loading the evidence…"</p> }>
            {move || Suspend::new(async move {
                match text.await {
                    Ok(t) => view! { <Rendered t/> }.into_any(),
                    Err(e) => view! { <ErrorNote error=e/> }.into_any(),
                }
            })}
        </Suspense>
    }
}

#[component]
fn Rendered(t: EvidenceText) -> impl IntoView {
    let cut = t
        .truncated
        .then(|| view! { <p class="muted small">"Showing the first 200 KiB; the raw link has all of it."</p> });
    let json = || serde_json::from_str::<Value>(&t.text).ok();
    let body = match t.kind.as_str() {
        "plan" | "prompt" => {
            // Rendered on the server with raw HTML escaped and unsafe links dropped.
            let html = t.html.clone().unwrap_or_default();
            view! { <div class="markdown" inner_html=html></div> }.into_any()
        }
        "request_log" => match json().as_ref().and_then(shape::request_log) {
            Some(shown) => view! { <Cut cut=shown.cut/> <RequestLog rows=shown.items/> }.into_any(),
            None => view! { <JsonView text=t.text.clone()/> }.into_any(),
        },
        "events" => match json().as_ref().and_then(shape::timeline) {
            Some(shown) => view! { <Cut cut=shown.cut/> <Timeline events=shown.items/> }.into_any(),
            None => view! { <JsonView text=t.text.clone()/> }.into_any(),
        },
        "extracted_data" => view! { <JsonView text=t.text.clone()/> }.into_any(),
        "diff" => match shape::side_by_side(&t.text) {
            Some(d) => view! { <Diff d/> }.into_any(),
            None => view! { <pre class="params">{t.text.clone()}</pre> }.into_any(),
        },
        _ => view! { <pre class="params">{t.text.clone()}</pre> }.into_any(),
    };
    view! { {cut} {body} }
}

#[component]
fn RequestLog(rows: Vec<shape::LoggedRequest>) -> impl IntoView {
    view! {
        <table class="table" data-testid="request-log">
            <thead><tr><th scope="col">"Method"</th><th scope="col">"URL"</th><th scope="col">"Status"</th><th scope="col">"Time"</th></tr></thead>
            <tbody>
                {rows.into_iter().map(|r| {
                    let bodies = (r.request_body.is_some() || r.response_body.is_some()).then(|| view! {
                        <tr class="bodies"><td colspan="4">
                            <details>
                                <summary>"Bodies"</summary>
                                {r.request_body.map(|b| view! { <h4>"Request"</h4><pre class="params">{b}</pre> })}
                                {r.response_body.map(|b| view! { <h4>"Response"</h4><pre class="params">{b}</pre> })}
                            </details>
                        </td></tr>
                    });
                    view! {
                        <tr>
                            <td><code>{r.method}</code></td>
                            <td class="small url">{r.url}</td>
                            <td>{r.status}</td>
                            <td class="small">{r.timing}</td>
                        </tr>
                        {bodies}
                    }
                }).collect_view()}
            </tbody>
        </table>
    }
}

#[component]
fn Timeline(events: Vec<shape::TimelineEvent>) -> impl IntoView {
    view! {
        <ol class="timeline" data-testid="timeline">
            {events.into_iter().map(|e| {
                let transition = e.is_transition();
                view! {
                    <li class:transition=transition>
                        <span class="small muted">{e.at}</span>
                        " "
                        <strong>{e.kind}</strong>
                        {e.url.map(|u| view! { " → " <code class="small">{u}</code> })}
                        {(!e.detail.is_empty()).then(|| view! { <div class="small">{e.detail}</div> })}
                    </li>
                }
            }).collect_view()}
        </ol>
    }
}

/// JSON as a table when it is flat, else as a tree of collapsible parts.
#[component]
fn JsonView(text: String) -> impl IntoView {
    let Ok(value) = serde_json::from_str::<Value>(&text) else {
        return view! { <pre class="params">{text}</pre> }.into_any();
    };
    match shape::table(&value) {
        Some(t) => view! {
            <Cut cut=t.cut/>
            <table class="table" data-testid="data-table">
                <thead><tr>{t.columns.into_iter().map(|c| view! { <th scope="col">{c}</th> }).collect_view()}</tr></thead>
                <tbody>
                    {t.rows.into_iter().map(|r| view! {
                        <tr>{r.into_iter().map(|c| view! { <td>{c}</td> }).collect_view()}</tr>
                    }).collect_view()}
                </tbody>
            </table>
        }
        .into_any(),
        None => {
            let (pruned, cut) = bounds::prune(&value);
            let cut = cut.then(|| format!(
                "Showing at most {} parts, {} levels deep.", bounds::MAX_NODES, bounds::MAX_DEPTH
            ));
            view! { <Cut cut/> <div class="tree" data-testid="data-tree">{tree(None, &pruned)}</div> }.into_any()
        }
    }
}

/// What a view left out, and where the rest is.
#[component]
fn Cut(cut: Option<String>) -> impl IntoView {
    cut.map(|c| {
        view! {
            <p class="muted small" data-testid="cut">{c} " The raw link has everything."</p>
        }
    })
}

fn tree(key: Option<String>, v: &Value) -> AnyView {
    let label = key.map(|k| format!("{k}: ")).unwrap_or_default();
    match v {
        Value::Object(o) => {
            let children: Vec<AnyView> = o.iter().map(|(k, v)| tree(Some(k.clone()), v)).collect();
            view! { <details open><summary>{format!("{label}{{{}}}", o.len())}</summary><div class="children">{children}</div></details> }.into_any()
        }
        Value::Array(items) => {
            let children: Vec<AnyView> = items
                .iter()
                .enumerate()
                .map(|(i, v)| tree(Some(i.to_string()), v))
                .collect();
            view! { <details open><summary>{format!("{label}[{}]", items.len())}</summary><div class="children">{children}</div></details> }.into_any()
        }
        other => {
            view! { <div class="leaf">{label}<code>{other.to_string()}</code></div> }.into_any()
        }
    }
}

#[component]
fn Diff(d: SideBySide) -> impl IntoView {
    view! {
        <div class="side-by-side" data-testid="diff">
            <div><h3>"Before"</h3><pre class="params before">{d.before}</pre></div>
            <div><h3>"After"</h3><pre class="params after">{d.after}</pre></div>
        </div>
    }
}

pub fn human_size(bytes: i64) -> String {
    match bytes {
        b if b < 1024 => format!("{b} B"),
        b if b < 1024 * 1024 => format!("{:.1} KiB", b as f64 / 1024.0),
        b => format!("{:.1} MiB", b as f64 / 1024.0 / 1024.0),
    }
}
