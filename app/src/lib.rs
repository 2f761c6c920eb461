//! Belay's application: pages, server functions, and (behind the `ssr`
//! feature) the rule book and storage they share with the REST API.
#![recursion_limit = "256"]

pub mod actions;
pub mod agents;
pub mod auth;
pub mod catalog;
pub mod clock;
pub mod error;
pub mod evidence;
pub mod policy;
pub mod rules;
pub mod scope;
pub mod text;
pub mod trust;
mod ui;

#[cfg(feature = "ssr")]
pub mod audit;
#[cfg(feature = "ssr")]
pub mod db;
#[cfg(feature = "ssr")]
pub mod state;

use leptos::prelude::*;
use leptos_meta::{provide_meta_context, MetaTags, Stylesheet, Title};
use leptos_router::components::{Route, Router, Routes, A};
use leptos_router::path;

pub fn shell(options: LeptosOptions) -> impl IntoView {
    view! {
        <!DOCTYPE html>
        <html lang="en">
            <head>
                <meta charset="utf-8"/>
                <meta name="viewport" content="width=device-width, initial-scale=1"/>
                <link rel="icon" href="/favicon.svg" type="image/svg+xml"/>
                <AutoReload options=options.clone()/>
                <HydrationScripts options/>
                <MetaTags/>
            </head>
            <body>
                <App/>
            </body>
        </html>
    }
}

#[component]
pub fn App() -> impl IntoView {
    provide_meta_context();
    // Effects run only in the browser, after hydration: mark the page live,
    // so tests (and people debugging) can tell a hydrated page from bare HTML.
    Effect::new(|_| {
        if let Some(body) = document().body() {
            let _ = body.set_attribute("data-hydrated", "true");
        }
    });
    view! {
        <Stylesheet id="leptos" href="/pkg/belay.css"/>
        <Title text="Belay"/>
        <Router>
            <Nav/>
            <main>
                <Routes fallback=|| view! { <h1>"Page not found"</h1> }>
                    <Route path=path!("/") view=trust::DashboardPage/>
                    <Route path=path!("/login") view=auth::LoginPage/>
                    <Route path=path!("/approvals") view=actions::ApprovalsPage/>
                    <Route path=path!("/approvals/:id") view=actions::ActionPage/>
                    <Route path=path!("/agents") view=agents::AgentsPage/>
                    <Route path=path!("/agents/:id") view=agents::AgentPage/>
                    <Route path=path!("/capabilities") view=catalog::CatalogPage/>
                    <Route path=path!("/policy") view=rules::PolicyPage/>
                    <Route path=path!("/simulate") view=rules::SimulatePage/>
                    <Route path=path!("/reviews") view=trust::ReviewsPage/>
                    <Route path=path!("/reviews/:id") view=trust::ReviewPage/>
                    <Route path=path!("/readiness") view=trust::ReadinessPage/>
                    <Route path=path!("/spot-checks") view=trust::SpotChecksPage/>
                </Routes>
            </main>
        </Router>
    }
}

#[component]
fn Nav() -> impl IntoView {
    // Re-read on every navigation, so signing in or out shows at once.
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
                            <nav>
                                <A href="/" exact=true>"Dashboard"</A>
                                <A href="/approvals">"Approvals"</A>
                                <A href="/spot-checks">"Spot checks"</A>
                                <A href="/reviews">"Reviews"</A>
                                <A href="/agents">"Agents"</A>
                                <A href="/capabilities">"Capabilities"</A>
                                <A href="/policy">"Policy"</A>
                                <A href="/simulate">"Simulate"</A>
                                <A href="/readiness">"Readiness"</A>
                            </nav>
                            <div class="who">
                                <span data-testid="whoami">{format!("{} ({})", user.username, user.role)}</span>
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
