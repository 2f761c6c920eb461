//! The trust pages: the agent's record, the reviews table, the dashboard,
//! spot checks and readiness settings.

mod charts;
mod dashboard;
mod record;
mod reviews;

pub use dashboard::{DashboardPage, ReadinessPage, SpotChecksPage};
pub use record::AgentRecord;
pub use reviews::{scope, ReviewTable};

use super::model::Check;
use leptos::prelude::*;

/// Readiness criteria, each met or not with its figure.
#[component]
pub fn CheckList(checks: Vec<Check>) -> impl IntoView {
    view! {
        <table class="table checks" data-testid="checks">
            <thead><tr><th>"Criterion"</th><th>"Needed"</th><th>"Actual"</th><th>""</th></tr></thead>
            <tbody>
                {checks.into_iter().map(|c| view! {
                    <tr class=if c.met { "met" } else { "unmet" }>
                        <td>{c.label}</td>
                        <td>{c.wanted}</td>
                        <td>{c.actual}</td>
                        <td>{if c.met { "✓ met" } else { "✗ not met" }}</td>
                    </tr>
                }).collect_view()}
            </tbody>
        </table>
    }
}

/// "Would have auto-allowed 212 actions, of which humans rejected 3."
pub fn what_if_text(w: &super::model::WhatIf) -> String {
    let stage = w.stage.map(|s| s.as_str()).unwrap_or("the target stage");
    let mut s = format!(
        "Of its {} requests in the past 30 days, at {stage} it would have had {} auto-allowed, of which humans rejected {}, corrected {}, and {} failed; {} would still have waited for a person.",
        w.considered, w.auto_allowed, w.rejected, w.corrected, w.failed, w.still_held
    );
    if w.truncated {
        s.push_str(" (Only the newest 20,000 requests were read.)");
    }
    s
}
