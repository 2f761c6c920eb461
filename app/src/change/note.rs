//! What a form says when its save became a change request.

use super::model::Proposed;
use leptos::prelude::*;

/// "Sent to another lead", with the link to the change and how it raises
/// trust. Callers put it inside their `role="status"` result.
#[component]
pub fn ProposedNote(proposed: Proposed) -> impl IntoView {
    view! {
        <div class="notice" data-testid="proposed">
            <p>
                "This raises trust, so it does not take effect until another lead approves it: "
                <a href=format!("/changes/{}", proposed.change_id)>"the change request"</a> "."
            </p>
            <ul>{proposed.rises.into_iter().map(|r| view! { <li>{r}</li> }).collect_view()}</ul>
        </div>
    }
}

/// The reason field every form that may raise trust carries.
#[component]
pub fn ReasonField() -> impl IntoView {
    view! {
        <label>
            "Reason (needed when this raises trust: another lead reads it)"
            <textarea name="reason" rows="2"></textarea>
        </label>
    }
}
