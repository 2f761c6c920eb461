//! `/webhooks`: endpoints, created with the event types they want (the
//! secret shown once), disabled, rotated, deleted; `/webhooks/:id`: one
//! endpoint's delivery log, every attempt with the answer it got, and
//! re-send. Admins only (the server functions check).

use super::{
    list_deliveries, list_endpoints, type_to_form_name, CreateEndpoint, DeleteEndpoint,
    DeliveryRow, EndpointRow, EventType, ResendDelivery, RotateSecret, SetEndpointEnabled,
};
use crate::local_time::TimeText;
use crate::ui::ErrorNote;
use leptos::prelude::*;
use leptos_router::hooks::use_params_map;

#[component]
pub fn WebhooksPage() -> impl IntoView {
    let create = ServerAction::<CreateEndpoint>::new();
    let enable = ServerAction::<SetEndpointEnabled>::new();
    let rotate = ServerAction::<RotateSecret>::new();
    let delete = ServerAction::<DeleteEndpoint>::new();
    let endpoints = Resource::new(
        move || {
            create.version().get()
                + enable.version().get()
                + rotate.version().get()
                + delete.version().get()
        },
        |_| list_endpoints(),
    );
    view! {
        <h1>"Webhooks"</h1>
        <p class="muted">
            "Belay signs each delivery as the Standard Webhooks specification says (webhook-id, webhook-timestamp, "
            "webhook-signature), retries it with back-off, and keeps every attempt's answer. A delivery's "
            "webhook-id stays the same on every retry and re-send: receivers de-duplicate by it."
        </p>
        {move || enable.value().get().and_then(Result::err).map(|e| view! { <ErrorNote error=e/> })}
        {move || delete.value().get().and_then(Result::err).map(|e| view! { <ErrorNote error=e/> })}
        {move || match rotate.value().get() {
            Some(Ok(secret)) => view! { <Secret secret label="New signing secret"/> }.into_any(),
            Some(Err(e)) => view! { <ErrorNote error=e/> }.into_any(),
            None => ().into_any(),
        }}
        <Transition fallback=|| view! { <p class="muted">"Loading endpoints…"</p> }>
            {move || Suspend::new(async move {
                match endpoints.await {
                    Ok(rows) => view! { <Endpoints rows enable rotate delete/> }.into_any(),
                    Err(e) => view! { <ErrorNote error=e/> }.into_any(),
                }
            })}
        </Transition>
        <section class="card">
            <h2>"Add an endpoint"</h2>
            <ActionForm action=create attr:class="form">
                <label>"URL (http:// or https://)" <input type="url" name="url" required/></label>
                <label>"Description" <input type="text" name="description" required maxlength="500"/></label>
                <fieldset>
                    <legend>"Events"</legend>
                    {EventType::ALL.into_iter().map(|t| view! {
                        <label class="check">
                            <input type="checkbox" name=format!("events[{}]", type_to_form_name(t)) value="on"/>
                            <code>{t.as_str()}</code>" — "{t.describe()}
                        </label>
                    }).collect_view()}
                </fieldset>
                <button type="submit" disabled=move || create.pending().get()>"Add endpoint"</button>
            </ActionForm>
            {move || match create.value().get() {
                Some(Ok(c)) => view! { <Secret secret=c.secret label="Signing secret"/> }.into_any(),
                Some(Err(e)) => view! { <ErrorNote error=e/> }.into_any(),
                None => ().into_any(),
            }}
        </section>
    }
}

#[component]
fn Secret(secret: String, label: &'static str) -> impl IntoView {
    view! {
        <div class="secret" role="status">
            {label}" (shown once; give it to the receiver now): "
            <code class="key" data-testid="webhook-secret">{secret}</code>
        </div>
    }
}

#[component]
fn Endpoints(
    rows: Vec<EndpointRow>,
    enable: ServerAction<SetEndpointEnabled>,
    rotate: ServerAction<RotateSecret>,
    delete: ServerAction<DeleteEndpoint>,
) -> impl IntoView {
    if rows.is_empty() {
        return view! { <p class="muted">"No endpoints yet."</p> }.into_any();
    }
    view! {
        <table class="table" data-testid="webhooks">
            <thead><tr><th>"Endpoint"</th><th>"Events"</th><th>"State"</th><th>"Waiting / failed"</th><th>"Since"</th><th></th></tr></thead>
            <tbody>
                {rows.into_iter().map(|e| {
                    let (id, id2, id3) = (e.id.clone(), e.id.clone(), e.id.clone());
                    let types = e.event_types.iter().map(|t| t.as_str()).collect::<Vec<_>>().join(", ");
                    view! {
                        <tr data-endpoint=e.url.clone()>
                            <td><a href=format!("/webhooks/{}", e.id)>{e.url.clone()}</a><br/><span class="small muted">{e.description.clone()}</span></td>
                            <td class="small">{types}</td>
                            <td>{if e.enabled { "enabled" } else { "disabled" }}</td>
                            <td>{format!("{} / {}", e.pending, e.failed)}</td>
                            <td class="small"><TimeText text=e.created_at.clone()/></td>
                            <td>
                                <ActionForm action=enable attr:class="form inline">
                                    <input type="hidden" name="id" value=id/>
                                    <input type="hidden" name="enabled" value=if e.enabled { "off" } else { "on" }/>
                                    <button type="submit" class="secondary">{if e.enabled { "Disable" } else { "Enable" }}</button>
                                </ActionForm>
                                <ActionForm action=rotate attr:class="form inline">
                                    <input type="hidden" name="id" value=id2/>
                                    <button type="submit" class="secondary">"Rotate secret"</button>
                                </ActionForm>
                                <ActionForm action=delete attr:class="form inline">
                                    <input type="hidden" name="id" value=id3/>
                                    <button type="submit" class="danger">"Delete"</button>
                                </ActionForm>
                            </td>
                        </tr>
                    }
                }).collect_view()}
            </tbody>
        </table>
    }
    .into_any()
}

#[component]
pub fn WebhookPage() -> impl IntoView {
    let params = use_params_map();
    let id = move || params.read().get("id").unwrap_or_default();
    let resend = ServerAction::<ResendDelivery>::new();
    let log = Resource::new(
        move || (id(), resend.version().get()),
        |(id, _)| list_deliveries(id),
    );
    view! {
        <p><a href="/webhooks">"← Webhooks"</a></p>
        {move || resend.value().get().and_then(Result::err).map(|e| view! { <ErrorNote error=e/> })}
        <Transition fallback=|| view! { <p class="muted">"Loading deliveries…"</p> }>
            {move || Suspend::new(async move {
                match log.await {
                    Ok((endpoint, rows)) => view! {
                        <h1>"Deliveries to " {endpoint.url.clone()}</h1>
                        <p class="muted">{endpoint.description.clone()}</p>
                        <Deliveries rows resend/>
                    }.into_any(),
                    Err(e) => view! { <ErrorNote error=e/> }.into_any(),
                }
            })}
        </Transition>
    }
}

#[component]
fn Deliveries(rows: Vec<DeliveryRow>, resend: ServerAction<ResendDelivery>) -> impl IntoView {
    if rows.is_empty() {
        return view! { <p class="muted">"Nothing delivered yet."</p> }.into_any();
    }
    view! {
        <ul class="plain" data-testid="deliveries">
            {rows.into_iter().map(|d| {
                let id = d.id.clone();
                view! {
                    <li class="card" data-delivery=d.id.clone()>
                        <h2><code>{d.event_type.clone()}</code>" — "{d.state.clone()}</h2>
                        <dl class="facts">
                            <dt>"webhook-id"</dt><dd><code>{d.id.clone()}</code></dd>
                            <dt>"Written"</dt><dd><TimeText text=d.created_at.clone()/></dd>
                            <dt>"Tries since written or re-sent"</dt><dd>{d.tries}</dd>
                        </dl>
                        <details><summary>"Body"</summary><pre class="prewrap">{d.body.clone()}</pre></details>
                        <table class="table">
                            <thead><tr><th>"Attempt"</th><th>"Answer"</th><th>"Took"</th><th>"Response"</th></tr></thead>
                            <tbody>
                                {d.attempts.into_iter().map(|a| view! {
                                    <tr>
                                        <td class="small"><TimeText text=a.at/></td>
                                        <td>{match (a.status, a.error) {
                                            (Some(s), _) => s.to_string(),
                                            (None, Some(e)) => e,
                                            (None, None) => "no answer".into(),
                                        }}</td>
                                        <td>{format!("{} ms", a.duration_ms)}</td>
                                        <td><pre class="prewrap small">{a.response}</pre></td>
                                    </tr>
                                }).collect_view()}
                            </tbody>
                        </table>
                        <ActionForm action=resend attr:class="form inline">
                            <input type="hidden" name="id" value=id/>
                            <button type="submit" class="secondary">"Re-send"</button>
                        </ActionForm>
                    </li>
                }
            }).collect_view()}
        </ul>
    }
    .into_any()
}
