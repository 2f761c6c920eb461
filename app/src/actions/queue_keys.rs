//! The queue's keys: move, open, approve as shown, reject, help.

use super::model::QueueRow;
use super::ApproveAction;
use leptos::prelude::*;
use leptos_router::hooks::use_navigate;

/// j/k move, Enter opens, a approves (as shown, no edits), r opens the
/// request at its reject form, ? shows the keys. Keys typed into a form
/// field are left alone.
pub(super) fn keyboard(
    rows: StoredValue<Vec<QueueRow>>,
    selected: RwSignal<usize>,
    approve: ServerAction<ApproveAction>,
    help: RwSignal<bool>,
) {
    let navigate = use_navigate();
    let handle = window_event_listener(leptos::ev::keydown, move |ev| {
        if ev.ctrl_key() || ev.meta_key() || ev.alt_key() || typing(&ev) {
            return;
        }
        let len = rows.with_value(Vec::len);
        let current = rows.with_value(|r| r.get(selected.get_untracked()).cloned());
        match ev.key().as_str() {
            "j" | "ArrowDown" if len > 0 => selected.update(|i| *i = (*i + 1).min(len - 1)),
            "k" | "ArrowUp" => selected.update(|i| *i = i.saturating_sub(1)),
            "Enter" => {
                if let Some(r) = current {
                    navigate(&format!("/approvals/{}", r.id), Default::default());
                }
            }
            "a" => {
                if let Some(r) = current {
                    approve.dispatch(ApproveAction {
                        id: r.id,
                        seen: r.payload_hash,
                        params: None,
                    });
                }
            }
            "r" => {
                if let Some(r) = current {
                    navigate(&format!("/approvals/{}#reject", r.id), Default::default());
                }
            }
            "?" => help.update(|h| *h = !*h),
            "Escape" => help.set(false),
            _ => return,
        }
        ev.prevent_default();
    });
    on_cleanup(move || handle.remove());
}

/// Whether the key went to a form field (then it is text, not a command).
fn typing(ev: &leptos::ev::KeyboardEvent) -> bool {
    use leptos::wasm_bindgen::JsCast;
    ev.target()
        .and_then(|t| t.dyn_into::<leptos::web_sys::Element>().ok())
        .map(|el| matches!(el.tag_name().as_str(), "INPUT" | "TEXTAREA" | "SELECT"))
        .unwrap_or(false)
}

#[component]
pub(super) fn KeyHelp(open: RwSignal<bool>) -> impl IntoView {
    view! {
        <Show when=move || open.get()>
            <div class="overlay" role="dialog" aria-modal="true" aria-labelledby="keys-title"
                on:click=move |_| open.set(false)>
                <div class="card" on:click=|ev| ev.stop_propagation()>
                    <h2 id="keys-title">"Keyboard"</h2>
                    <dl class="facts">
                        <dt><kbd>"j"</kbd> " / " <kbd>"↓"</kbd></dt><dd>"next request"</dd>
                        <dt><kbd>"k"</kbd> " / " <kbd>"↑"</kbd></dt><dd>"previous request"</dd>
                        <dt><kbd>"Enter"</kbd></dt><dd>"open it, with its evidence"</dd>
                        <dt><kbd>"a"</kbd></dt><dd>"approve it as shown"</dd>
                        <dt><kbd>"r"</kbd></dt><dd>"reject it (a reason is required)"</dd>
                        <dt><kbd>"?"</kbd></dt><dd>"show or hide these keys"</dd>
                    </dl>
                    <button on:click=move |_| open.set(false)>"Close"</button>
                </div>
            </div>
        </Show>
    }
}
