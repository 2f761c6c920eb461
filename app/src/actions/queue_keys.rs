//! The queue's keys: move, open, approve what is shown, reject, help. The
//! selection is a request id, not a row position, so it stays on the same
//! request while live updates reorder the list.

use super::model::{QueuePage, QueueRow};
use super::queue_guard::{may_approve, Arrivals, Refusal, Shown};
use super::ApproveAction;
use leptos::prelude::*;
use leptos_router::hooks::use_navigate;

/// The id of the element that shows the selected request's details.
pub(super) const DETAIL_ID: &str = "queue-detail";

/// What is selected, and what the keys last had to say.
#[derive(Clone, Copy)]
pub(super) struct Selection {
    /// The selected request's id.
    pub id: RwSignal<Option<String>>,
    /// Where the last selected request stood, so after it leaves the list
    /// `j` picks the one now in its place.
    resume: StoredValue<Option<usize>>,
    /// What the last key did, or why it did nothing (an aria-live status).
    pub status: RwSignal<String>,
    arrivals: StoredValue<Arrivals>,
}

impl Selection {
    pub fn new() -> Selection {
        Selection {
            id: RwSignal::new(None),
            resume: StoredValue::new(None),
            status: RwSignal::new(String::new()),
            arrivals: StoredValue::new(Arrivals::default()),
        }
    }

    /// Selects the request at `index` of `rows`, and brings its details
    /// into view.
    pub fn pick(&self, rows: &[QueueRow], index: usize) {
        let Some(r) = rows.get(index) else { return };
        self.id.set(Some(r.id.clone()));
        self.resume.set_value(Some(index));
        self.status.set(String::new());
        request_animation_frame(show_detail);
    }

    /// Takes in a fresh read of `list`. If the selected request is gone,
    /// nothing is selected (never silently another one), and the status
    /// says so. Another list (filters or page) starts with nothing selected.
    pub fn saw(&self, list: &str, page: &QueuePage) {
        let now = client_now();
        let first = self
            .arrivals
            .try_update_value(|a| a.saw(list, &page.rows, page.now_ms, now))
            .unwrap_or(true);
        if first {
            self.id.set(None);
            self.resume.set_value(None);
            self.status.set(String::new());
            return;
        }
        let Some(id) = self.id.get_untracked() else {
            return;
        };
        if !page.rows.iter().any(|r| r.id == id) {
            self.id.set(None);
            self.status.set(
                "The request you had selected left this list (decided, withdrawn, expired or \
                 on another page now). Nothing is selected; j selects the one in its place."
                    .into(),
            );
        }
    }

    /// After an approval: the request is done with, so nothing is selected.
    pub fn approved(&self, id: &str, message: String) {
        if self.id.get_untracked().as_deref() == Some(id) {
            self.id.set(None);
        }
        self.status.set(message);
    }

    /// The row `j` (`step` 1) or `k` (`step` -1) moves to.
    fn step(&self, rows: &[QueueRow], step: isize) -> Option<usize> {
        let last = rows.len().checked_sub(1)?;
        let at = self.id.with_untracked(|id| {
            id.as_ref()
                .and_then(|id| rows.iter().position(|r| &r.id == id))
        });
        Some(match (at, self.resume.get_value()) {
            (Some(i), _) => i.saturating_add_signed(step).min(last),
            // Nothing selected: start where the last selected one stood.
            (None, Some(i)) if step > 0 => i.min(last),
            (None, Some(i)) => i.saturating_sub(1).min(last),
            (None, None) => 0,
        })
    }
}

/// j/k move, Enter opens, a approves what is shown (no edits), r opens the
/// request at its reject form, ? shows the keys. Keys typed into a form
/// field are left alone; while the key help is open only ? and Escape work.
pub(super) fn keyboard(
    rows: Memo<Vec<QueueRow>>,
    sel: Selection,
    approve: ServerAction<ApproveAction>,
    help: RwSignal<bool>,
) {
    let navigate = use_navigate();
    let handle = window_event_listener(leptos::ev::keydown, move |ev| {
        if ev.ctrl_key() || ev.meta_key() || ev.alt_key() || typing(&ev) {
            return;
        }
        let key = ev.key();
        // Enter on a focused link, button or menu (the folded navigation,
        // the filters) belongs to that control, not to the queue.
        if key == "Enter" && matches!(target_tag(&ev).as_deref(), Some("A" | "BUTTON" | "SUMMARY"))
        {
            return;
        }
        if help.get_untracked() && !matches!(key.as_str(), "?" | "Escape") {
            return;
        }
        let rows = rows.get_untracked();
        let selected = sel.id.get_untracked();
        let current = selected
            .as_ref()
            .and_then(|id| rows.iter().find(|r| &r.id == id));
        let open = |suffix: &str| match current {
            Some(r) => navigate(&format!("/approvals/{}{suffix}", r.id), Default::default()),
            None => sel.status.set(Refusal::NothingSelected.message()),
        };
        match key.as_str() {
            "j" | "ArrowDown" => {
                if let Some(i) = sel.step(&rows, 1) {
                    sel.pick(&rows, i);
                }
            }
            "k" | "ArrowUp" => {
                if let Some(i) = sel.step(&rows, -1) {
                    sel.pick(&rows, i);
                }
            }
            "Enter" => open(""),
            "r" => open("#reject"),
            "a" => {
                let shown = selected.as_deref().map(shown).unwrap_or(Shown::No);
                let busy = approve.pending().get_untracked();
                let verdict = sel.arrivals.with_value(|a| {
                    may_approve(
                        selected.as_deref(),
                        current,
                        shown.clone(),
                        busy,
                        a,
                        client_now(),
                    )
                });
                match (verdict, current) {
                    (Ok(seen), Some(r)) => {
                        sel.status.set(format!("Approving {}…", r.capability));
                        approve.dispatch(ApproveAction {
                            id: r.id.clone(),
                            seen,
                            params: None,
                        });
                    }
                    (Ok(_), None) => {}
                    (Err(why), _) => {
                        if shown == Shown::OffScreen {
                            show_detail();
                        }
                        sel.status.set(why.message());
                    }
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
    matches!(
        target_tag(ev).as_deref(),
        Some("INPUT" | "TEXTAREA" | "SELECT")
    )
}

/// The tag of the element the key went to ("A", "INPUT", …).
fn target_tag(ev: &leptos::ev::KeyboardEvent) -> Option<String> {
    use leptos::wasm_bindgen::JsCast;
    ev.target()
        .and_then(|t| t.dyn_into::<leptos::web_sys::Element>().ok())
        .map(|el| el.tag_name())
}

/// The browser's monotonic clock, in milliseconds.
fn client_now() -> f64 {
    #[cfg(feature = "hydrate")]
    {
        window().performance().map(|p| p.now()).unwrap_or(0.0)
    }
    #[cfg(not(feature = "hydrate"))]
    {
        0.0
    }
}

/// What the page shows for request `id`: its details element, as drawn
/// now, and whether any of it is inside the window.
fn shown(id: &str) -> Shown {
    let Some(el) = document().get_element_by_id(DETAIL_ID) else {
        return Shown::No;
    };
    if el.get_attribute("data-id").as_deref() != Some(id) {
        return Shown::No;
    }
    let Some(hash) = el.get_attribute("data-hash") else {
        return Shown::No;
    };
    if in_view(&el) {
        Shown::Yes { hash }
    } else {
        Shown::OffScreen
    }
}

#[cfg(feature = "hydrate")]
fn in_view(el: &leptos::web_sys::Element) -> bool {
    let rect = el.get_bounding_client_rect();
    let height = window()
        .inner_height()
        .ok()
        .and_then(|h| h.as_f64())
        .unwrap_or(0.0);
    rect.height() > 0.0 && rect.bottom() > 0.0 && rect.top() < height
}

// The keys only run in the browser.
#[cfg(not(feature = "hydrate"))]
fn in_view(_: &leptos::web_sys::Element) -> bool {
    false
}

/// Scrolls the selected request's details into view, if drawn.
fn show_detail() {
    #[cfg(feature = "hydrate")]
    if let Some(el) = document().get_element_by_id(DETAIL_ID) {
        let options = web_sys::ScrollIntoViewOptions::new();
        options.set_block(web_sys::ScrollLogicalPosition::Nearest);
        el.scroll_into_view_with_scroll_into_view_options(&options);
    }
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
                        <dt><kbd>"j"</kbd> " / " <kbd>"↓"</kbd></dt><dd>"select the next request; its params and evidence open below it"</dd>
                        <dt><kbd>"k"</kbd> " / " <kbd>"↑"</kbd></dt><dd>"select the previous request"</dd>
                        <dt><kbd>"Enter"</kbd></dt><dd>"open it, with its evidence"</dd>
                        <dt><kbd>"a"</kbd></dt>
                        <dd>
                            "approve it exactly as shown below it. Only while its details are on screen, "
                            "and not in its first 3 seconds on the list: a request that just arrived is "
                            "never approved by a key meant for another. The selection stays on the same "
                            "request when the list updates."
                        </dd>
                        <dt><kbd>"r"</kbd></dt><dd>"reject it (a reason is required)"</dd>
                        <dt><kbd>"?"</kbd></dt><dd>"show or hide these keys"</dd>
                    </dl>
                    <button on:click=move |_| open.set(false)>"Close"</button>
                </div>
            </div>
        </Show>
    }
}
