//! The promotion reviews table, shown on an agent's record and on the
//! Reviews page.

use crate::local_time::TimeText;
use crate::trust::views::ReviewRow;
use leptos::prelude::*;

pub fn scope(r: &ReviewRow) -> String {
    if r.capabilities.is_empty() {
        "the agent".into()
    } else {
        r.capabilities.join(", ")
    }
}

#[component]
pub fn ReviewTable(rows: Vec<ReviewRow>) -> impl IntoView {
    view! {
        <table class="table" data-testid="reviews">
            <thead>
                <tr><th>"Agent"</th><th>"Change"</th><th>"Scope"</th><th>"Criteria"</th><th>"State"</th><th>"Opened"</th></tr>
            </thead>
            <tbody>
                {rows.into_iter().map(|r| view! {
                    <tr>
                        <td><a href=format!("/reviews/{}", r.id)>{r.agent_name.clone()}</a></td>
                        <td>
                            {if r.reinstate { "reinstate at " } else { "" }}
                            {r.from.as_str()} " → " {r.to.as_str()}
                        </td>
                        <td>{scope(&r)}</td>
                        <td>{if r.criteria_met { "met" } else { "not met" }}</td>
                        <td>{format!("{} ({} of {} approvals)", r.state, r.approvals, r.approvals_needed)}</td>
                        <td class="small"><TimeText text=r.opened_at/>{format!(" by {}", r.opened_by)}</td>
                    </tr>
                }).collect_view()}
            </tbody>
        </table>
    }
}
