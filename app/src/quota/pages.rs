//! The agent page's quota panel: each quota, whether it is the agent's own
//! or the default, how often it refused lately, and (for leads and admins)
//! the form to set them.

use super::{agent_quotas, QuotaLine, QuotaSheet, SetAgentQuotas};
use crate::ui::ErrorNote;
use leptos::prelude::*;

#[component]
pub fn QuotaPanel(agent_id: String) -> impl IntoView {
    let save = ServerAction::<SetAgentQuotas>::new();
    let quotas = Resource::new(
        {
            let id = agent_id.clone();
            move || (id.clone(), save.version().get())
        },
        |(id, _)| agent_quotas(id),
    );
    view! {
        <section class="card" aria-labelledby="quotas">
            <h2 id="quotas">"Quotas"</h2>
            <p class="muted small">
                "What this agent may use whatever its stage. Past a quota the agent is answered 429 with Retry-After, and other agents are not slowed."
            </p>
            <Transition fallback=|| view! { <p class="muted">"Loading quotas…"</p> }>
                {move || {
                    let agent_id = agent_id.clone();
                    Suspend::new(async move {
                        match quotas.await {
                            Ok(q) => view! { <QuotaTable quotas=q agent_id save/> }.into_any(),
                            Err(e) => view! { <ErrorNote error=e/> }.into_any(),
                        }
                    })
                }}
            </Transition>
        </section>
    }
}

#[component]
fn QuotaTable(
    quotas: QuotaSheet,
    agent_id: String,
    save: ServerAction<SetAgentQuotas>,
) -> impl IntoView {
    let QuotaSheet {
        lines,
        long_polls_open,
        evidence_mib_today,
        can_manage,
    } = quotas;
    let rows = lines.clone();
    view! {
        <table class="table" data-testid="quotas">
            <thead>
                <tr><th>"Quota"</th><th>"Limit"</th><th>"Refused (this server, since it started)"</th></tr>
            </thead>
            <tbody>
                {rows.into_iter().map(|l| view! {
                    <tr>
                        <td>{l.label.clone()}</td>
                        <td>{match l.own {
                            Some(v) => format!("{v} (this agent's own)"),
                            None => format!("{} (default)", l.default),
                        }}</td>
                        <td>{l.refused}</td>
                    </tr>
                }).collect_view()}
            </tbody>
        </table>
        <p class="muted small">
            {format!("Now: {evidence_mib_today} MiB of evidence stored today, {long_polls_open} long-polls open.")}
        </p>
        {can_manage.then(|| view! { <QuotaForm lines agent_id save/> })}
    }
}

#[component]
fn QuotaForm(
    lines: Vec<QuotaLine>,
    agent_id: String,
    save: ServerAction<SetAgentQuotas>,
) -> impl IntoView {
    view! {
        <ActionForm action=save attr:class="form inline">
            <input type="hidden" name="agent_id" value=agent_id/>
            {lines.into_iter().map(|l| view! {
                <label>
                    {l.label}
                    <input name=l.name inputmode="numeric" size="8"
                        value=l.own.map(|v| v.to_string()).unwrap_or_default()
                        placeholder=format!("default {}", l.default)/>
                </label>
            }).collect_view()}
            <button type="submit" disabled=move || save.pending().get()>
                {move || if save.pending().get() { "Saving…" } else { "Save quotas" }}
            </button>
        </ActionForm>
        <p class="muted small">"Leave a field blank for the server's default."</p>
        {move || match save.value().get() {
            Some(Ok(())) => view! { <p class="success" role="status">"Quotas saved."</p> }.into_any(),
            Some(Err(e)) => view! { <ErrorNote error=e/> }.into_any(),
            None => ().into_any(),
        }}
    }
}
