//! Small pieces every page uses.

use crate::error::AppError;
use crate::policy::{Stage, Trigger};
use leptos::prelude::*;

#[component]
pub fn ErrorNote(error: AppError) -> impl IntoView {
    let signin = matches!(error, AppError::Unauthorized(_));
    view! {
        <div class="error" role="alert">
            <p>{error.to_string()}</p>
            {signin.then(|| view! { <p><a href="/login">"Sign in"</a></p> })}
        </div>
    }
}

#[component]
pub fn StageBadge(stage: Stage) -> impl IntoView {
    view! {
        <span class=format!("badge stage stage-{}", stage.number())
            title=format!("trust stage {} of 5", stage.number())>
            {stage.as_str()}
        </span>
    }
}

/// An action's risk: its triggers, or a warning when the catalog did not
/// know the capability (never shown as "no risk").
#[component]
pub fn TriggerList(triggers: Vec<Trigger>, known: bool) -> impl IntoView {
    if !known {
        return view! {
            <span class="badge trigger unknown" title="not in the capability catalog: treated as high risk">
                "unknown capability"
            </span>
        }
        .into_any();
    }
    if triggers.is_empty() {
        return view! { <span class="muted">"none"</span> }.into_any();
    }
    triggers
        .into_iter()
        .map(|t| view! { <span class="badge trigger">{t.as_str()}</span> " " })
        .collect_view()
        .into_any()
}
