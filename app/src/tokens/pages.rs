//! The account page's token section: make one (shown once), list them
//! with when each was last used, revoke.

use super::{list_tokens, CreateToken, RevokeToken, TokenRow, DEFAULT_DAYS, MAX_DAYS};
use crate::local_time::TimeText;
use crate::ui::ErrorNote;
use leptos::prelude::*;

#[component]
pub fn TokensSection() -> impl IntoView {
    let create = ServerAction::<CreateToken>::new();
    let revoke = ServerAction::<RevokeToken>::new();
    let tokens = Resource::new(
        move || create.version().get() + revoke.version().get(),
        |_| list_tokens(),
    );
    view! {
        <section class="card" aria-labelledby="tokens">
            <h2 id="tokens">"Personal access tokens"</h2>
            <p class="muted small">
                "A token lets your own scripts use the reviewer API ("<code>"/api/v1/review/…"</code>
                ") as you, with your role as it is at each call: "<strong>"read"</strong>
                " sees the queue, requests, agents and promotion reviews; "<strong>"decide"</strong>
                " may also approve and reject. Every token expires. Changing your password ends your tokens."
            </p>
            <ActionForm action=create attr:class="form inline">
                <label>"Name" <input name="name" required maxlength="100" placeholder="triage script"/></label>
                <label>
                    "Scope"
                    <select name="scope">
                        <option value="read" selected>"read"</option>
                        <option value="decide">"decide"</option>
                    </select>
                </label>
                <label>
                    {format!("Expires after (days, 1–{MAX_DAYS})")}
                    <input name="expires_in_days" inputmode="numeric" size="5" value=DEFAULT_DAYS.to_string()/>
                </label>
                <button type="submit" disabled=move || create.pending().get()>"Make token"</button>
            </ActionForm>
            {move || match create.value().get() {
                Some(Ok(token)) => view! {
                    <div class="secret" role="status">
                        <p><strong>"Copy this token now: it will not be shown again."</strong></p>
                        <code class="key" data-testid="new-token">{token.secret}</code>
                        <p class="small">"It expires " <TimeText text=token.expires_at/> "."</p>
                    </div>
                }
                .into_any(),
                Some(Err(e)) => view! { <ErrorNote error=e/> }.into_any(),
                None => ().into_any(),
            }}
            {move || revoke.value().get().and_then(Result::err).map(|e| view! { <ErrorNote error=e/> })}
            <Transition fallback=|| view! { <p class="muted">"Loading tokens…"</p> }>
                {move || Suspend::new(async move {
                    match tokens.await {
                        Ok(rows) if rows.is_empty() => view! { <p class="muted">"No tokens yet."</p> }.into_any(),
                        Ok(rows) => view! { <TokenTable rows revoke/> }.into_any(),
                        Err(e) => view! { <ErrorNote error=e/> }.into_any(),
                    }
                })}
            </Transition>
        </section>
    }
}

#[component]
fn TokenTable(rows: Vec<TokenRow>, revoke: ServerAction<RevokeToken>) -> impl IntoView {
    view! {
        <table class="table" data-testid="tokens">
            <thead><tr>
                <th>"Name"</th><th>"Scope"</th><th>"Token"</th><th>"Made"</th>
                <th>"Expires"</th><th>"Last used"</th><th>"State"</th><th></th>
            </tr></thead>
            <tbody>
                {rows.into_iter().map(|t| {
                    let live = t.status == "active";
                    view! {
                        <tr data-token=t.name.clone()>
                            <td>{t.name.clone()}</td>
                            <td>{t.scope.as_str()}</td>
                            <td><code>{format!("{}…", t.prefix)}</code></td>
                            <td class="small"><TimeText text=t.created_at.clone()/></td>
                            <td class="small"><TimeText text=t.expires_at.clone()/></td>
                            <td class="small">{match t.last_used_at.clone() {
                                Some(at) => view! { <TimeText text=at/> }.into_any(),
                                None => view! { <span class="muted">"never"</span> }.into_any(),
                            }}</td>
                            <td>{t.status.clone()}</td>
                            <td>{live.then(|| view! {
                                <ActionForm action=revoke attr:class="form inline">
                                    <input type="hidden" name="id" value=t.id.clone()/>
                                    <button type="submit" class="danger">"Revoke"</button>
                                </ActionForm>
                            })}</td>
                        </tr>
                    }
                }).collect_view()}
            </tbody>
        </table>
    }
}
