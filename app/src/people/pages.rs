//! `/people` for admins, `/account` for everyone.

use super::{list_people, ChangePassword, PersonRow, ResetPassword, SetActive, SetRole};
use crate::auth::Role;
use crate::local_time::TimeText;
use crate::slack::SlackLinkSection;
use crate::ui::ErrorNote;
use leptos::prelude::*;

#[component]
pub fn PeoplePage() -> impl IntoView {
    let set_active = ServerAction::<SetActive>::new();
    let set_role = ServerAction::<SetRole>::new();
    let reset = ServerAction::<ResetPassword>::new();
    let people = Resource::new(
        move || set_active.version().get() + set_role.version().get(),
        |_| list_people(),
    );
    view! {
        <h1>"People"</h1>
        <p class="muted">
            "Deactivating someone ends their sessions at once. A reset password is shown once; the old one stops working. "
            "Belay always keeps at least one active admin."
        </p>
        {move || set_active.value().get().and_then(Result::err).map(|e| view! { <ErrorNote error=e/> })}
        {move || set_role.value().get().and_then(Result::err).map(|e| view! { <ErrorNote error=e/> })}
        {move || match reset.value().get() {
            Some(Ok(secret)) => view! {
                <div class="secret" role="status">
                    "New password (shown once; hand it over now): "
                    <code class="key" data-testid="new-password">{secret}</code>
                </div>
            }.into_any(),
            Some(Err(e)) => view! { <ErrorNote error=e/> }.into_any(),
            None => ().into_any(),
        }}
        <Transition fallback=|| view! { <p class="muted">"Loading people…"</p> }>
            {move || Suspend::new(async move {
                match people.await {
                    Ok(rows) => view! { <PeopleTable rows set_active set_role reset/> }.into_any(),
                    Err(e) => view! { <ErrorNote error=e/> }.into_any(),
                }
            })}
        </Transition>
    }
}

#[component]
fn PeopleTable(
    rows: Vec<PersonRow>,
    set_active: ServerAction<SetActive>,
    set_role: ServerAction<SetRole>,
    reset: ServerAction<ResetPassword>,
) -> impl IntoView {
    view! {
        <table class="table" data-testid="people">
            <thead><tr><th>"Person"</th><th>"Role"</th><th>"State"</th><th>"Since"</th><th></th></tr></thead>
            <tbody>
                {rows.into_iter().map(|p| {
                    let (id, id2, id3) = (p.id.clone(), p.id.clone(), p.id.clone());
                    let label = format!("role for {}", p.username);
                    view! {
                        <tr data-person=p.username.clone()>
                            <td>{p.username.clone()}{p.you.then_some(" (you)")}</td>
                            <td>
                                <ActionForm action=set_role attr:class="form inline">
                                    <input type="hidden" name="id" value=id/>
                                    <select name="role" aria-label=label>
                                        {Role::ALL.into_iter().map(|r| view! {
                                            <option value=r.as_str() selected=r == p.role>{r.as_str()}</option>
                                        }).collect_view()}
                                    </select>
                                    <button type="submit" class="secondary">"Change role"</button>
                                </ActionForm>
                            </td>
                            <td>{if p.active { "active" } else { "deactivated" }}</td>
                            <td class="small"><TimeText text=p.created_at.clone()/></td>
                            <td>
                                {(!p.you).then(|| view! {
                                    <ActionForm action=set_active attr:class="form inline">
                                        <input type="hidden" name="id" value=id2.clone()/>
                                        <input type="hidden" name="active" value=if p.active { "off" } else { "on" }/>
                                        <button type="submit" class=if p.active { "danger" } else { "secondary" }>
                                            {if p.active { "Deactivate" } else { "Reactivate" }}
                                        </button>
                                    </ActionForm>
                                })}
                                {if p.you {
                                    view! { <a href="/account">"Change your password"</a> }.into_any()
                                } else {
                                    view! {
                                        <ActionForm action=reset attr:class="form inline">
                                            <input type="hidden" name="id" value=id3/>
                                            <button type="submit" class="secondary">"Reset password"</button>
                                        </ActionForm>
                                    }.into_any()
                                }}
                            </td>
                        </tr>
                    }
                }).collect_view()}
            </tbody>
        </table>
    }
}

#[component]
pub fn AccountPage() -> impl IntoView {
    let change = ServerAction::<ChangePassword>::new();
    view! {
        <h1>"Your account"</h1>
        <section class="card">
            <h2>"Change your password"</h2>
            <ActionForm action=change attr:class="form">
                <label>"Current password" <input type="password" name="current" required autocomplete="current-password"/></label>
                <label>"New password (at least 12 characters)" <input type="password" name="new" required minlength="12" autocomplete="new-password"/></label>
                <button type="submit" disabled=move || change.pending().get()>"Change password"</button>
            </ActionForm>
            {move || match change.value().get() {
                Some(Ok(())) => view! { <p class="success" role="status">"Your password is changed."</p> }.into_any(),
                Some(Err(e)) => view! { <ErrorNote error=e/> }.into_any(),
                None => ().into_any(),
            }}
        </section>
        <crate::tokens::TokensSection/>
        <SlackLinkSection/>
    }
}
