//! `/capabilities`: the catalog, and forms for leads to add or change entries.

use super::{list_capabilities, CapabilityRow, SaveCapability};
use crate::change::{ProposedNote, ReasonField, Saved};
use crate::policy::Trigger;
use crate::ui::{ErrorNote, TriggerList};
use leptos::prelude::*;

#[component]
pub fn CatalogPage() -> impl IntoView {
    let save = ServerAction::<SaveCapability>::new();
    let catalog = Resource::new(move || save.version().get(), |_| list_capabilities());
    view! {
        <h1>"Capability catalog"</h1>
        <p class="muted">
            "Each capability names a kind of action and its risk triggers. A capability "
            "missing from the catalog is treated as high risk, never as safe."
        </p>
        {move || match save.value().get() {
            Some(Ok(Saved::Applied(c))) => view! { <p class="success" role="status">{format!("Saved {}.", c.name)}</p> }.into_any(),
            Some(Ok(Saved::Proposed(p))) => view! { <div role="status"><ProposedNote proposed=p/></div> }.into_any(),
            Some(Err(e)) => view! { <ErrorNote error=e/> }.into_any(),
            None => ().into_any(),
        }}
        <Transition fallback=|| view! { <p class="muted">"Loading the catalog…"</p> }>
            {move || Suspend::new(async move {
                match catalog.await {
                    Ok((rows, can_manage)) => view! {
                        <CatalogTable rows=rows can_manage save/>
                        {can_manage.then(|| view! {
                            <section class="card">
                                <h2>"Add a capability"</h2>
                                <CapabilityForm save entry=None/>
                            </section>
                        })}
                    }
                    .into_any(),
                    Err(e) => view! { <ErrorNote error=e/> }.into_any(),
                }
            })}
        </Transition>
    }
}

#[component]
fn CatalogTable(
    rows: Vec<CapabilityRow>,
    can_manage: bool,
    save: ServerAction<SaveCapability>,
) -> impl IntoView {
    view! {
        <table class="table" data-testid="catalog">
            <thead>
                <tr><th>"Capability"</th><th>"Risk triggers"</th><th>"Reversible"</th><th></th></tr>
            </thead>
            <tbody>
                {rows
                    .into_iter()
                    .map(|c| {
                        let known = c.unreadable.is_none();
                        view! {
                            <tr data-capability=c.name.clone()>
                                <td>
                                    <code>{c.name.clone()}</code>
                                    <div class="muted small">{c.description.clone()}</div>
                                    {c.unreadable.clone().map(|why| view! {
                                        <div class="error small">{format!("stored triggers unreadable: {why}")}</div>
                                    })}
                                </td>
                                <td><TriggerList triggers=c.triggers.clone() known/></td>
                                <td>{if c.reversible { "yes" } else { "no" }}</td>
                                <td>
                                    {can_manage.then(|| view! {
                                        <details>
                                            <summary>"Edit"</summary>
                                            <CapabilityForm save entry=Some(c.clone())/>
                                        </details>
                                    })}
                                </td>
                            </tr>
                        }
                    })
                    .collect_view()}
            </tbody>
        </table>
    }
}

/// One form for adding (no entry) or changing (entry given) a capability.
#[component]
fn CapabilityForm(
    save: ServerAction<SaveCapability>,
    entry: Option<CapabilityRow>,
) -> impl IntoView {
    let editing = entry.is_some();
    let entry = entry.unwrap_or(CapabilityRow {
        name: String::new(),
        description: String::new(),
        triggers: vec![],
        reversible: true,
        unreadable: None,
    });
    view! {
        <ActionForm action=save attr:class="form">
            {if editing {
                view! { <input type="hidden" name="name" value=entry.name.clone()/> }.into_any()
            } else {
                view! {
                    <label>"Name" <input name="name" required placeholder="payments.payout"/></label>
                }
                .into_any()
            }}
            <label>
                "Description"
                <input name="description" required value=entry.description.clone()/>
            </label>
            <fieldset>
                <legend>"Risk triggers"</legend>
                {Trigger::ALL
                    .into_iter()
                    .map(|t| view! {
                        <label class="check">
                            <input type="checkbox" name=format!("checked[{}]", t.as_str()) value="on" checked=entry.triggers.contains(&t)/>
                            {t.as_str()}
                        </label>
                    })
                    .collect_view()}
            </fieldset>
            <label class="check">
                <input type="checkbox" name="checked[reversible]" value="on" checked=entry.reversible/>
                "Reversible"
            </label>
            <ReasonField/>
            <button type="submit" disabled=move || save.pending().get()>
                {move || if save.pending().get() { "Saving…" } else if editing { "Save changes" } else { "Add capability" }}
            </button>
        </ActionForm>
    }
}
