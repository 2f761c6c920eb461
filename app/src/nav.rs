//! The bar on every page: the sections, who is signed in, and signing out.
//!
//! Wide screens show the sections in a row; narrow ones fold them into a
//! menu. The menu is a `<details>`, so it opens by keyboard and touch
//! before the page hydrates, with no script. The links are rendered twice
//! (the row and the menu) and CSS shows one: a closed `<details>` cannot be
//! forced open by CSS in every browser we support.

use crate::auth::{self, UserView};
use leptos::prelude::*;
use leptos_router::components::A;

#[component]
pub fn Nav() -> impl IntoView {
    // Re-read on every navigation, so signing in or out shows at once (and
    // the menu, drawn afresh, is closed again on the next page).
    let location = leptos_router::hooks::use_location();
    let me = Resource::new(move || location.pathname.get(), |_| auth::current_user());
    let logout = ServerAction::<auth::Logout>::new();
    view! {
        <header class="nav">
            <a class="brand" href="/">"Belay"</a>
            <Transition fallback=|| ()>
                {move || Suspend::new(async move {
                    match me.await {
                        Ok(Some(user)) => view! {
                            <nav class="nav-row" aria-label="Sections">
                                <Sections user=user.clone()/>
                            </nav>
                            <details class="nav-menu">
                                <summary>"Menu"</summary>
                                <nav aria-label="Sections">
                                    <Sections user=user.clone()/>
                                </nav>
                            </details>
                            <div class="who">
                                <a href="/account" data-testid="whoami">{format!("{} ({})", user.username, user.role)}</a>
                                <ActionForm action=logout attr:class="inline">
                                    <button type="submit" class="link">"Sign out"</button>
                                </ActionForm>
                            </div>
                        }
                        .into_any(),
                        _ => ().into_any(),
                    }
                })}
            </Transition>
        </header>
    }
}

/// The sections this person's role may open.
#[component]
fn Sections(user: UserView) -> impl IntoView {
    view! {
        <A href="/" exact=true>"Dashboard"</A>
        <A href="/approvals">"Approvals"</A>
        <A href="/spot-checks">"Spot checks"</A>
        <A href="/reviews">"Reviews"</A>
        <A href="/agents">"Agents"</A>
        <A href="/capabilities">"Capabilities"</A>
        <A href="/policy">"Policy"</A>
        <A href="/simulate">"Simulate"</A>
        <A href="/readiness">"Readiness"</A>
        {user.role.can_audit().then(|| view! { <A href="/audit">"Audit"</A> })}
        {user.role.can_administer().then(|| view! { <A href="/people">"People"</A> })}
        {user.role.can_administer().then(|| view! { <A href="/webhooks">"Webhooks"</A> })}
        {user.role.can_administer().then(|| view! { <A href="/slack">"Slack"</A> })}
    }
}
