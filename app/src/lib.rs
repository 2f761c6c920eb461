//! Belay's application: pages, server functions, and (behind the `ssr`
//! feature) the rule book and storage they share with the REST API.
//!
//! # Where things live
//!
//! Each feature is a folder; its `mod.rs` holds the types the pages share
//! with the server and the server functions (thin: a guard, parsing, one
//! call into the feature), beside `pages.rs` (the browser) and `store.rs`
//! (its tables). Below the features: `policy/` (the pure rule book and its
//! cached index), `auth/` (who is calling), `db`, `audit`, `error`. The
//! module graph has no cycles (`app/tests/structure/`).
//!
//! # A submission, top to bottom (6 files)
//!
//! 1. `server/src/api/actions.rs` — `submit`: the key's shape is checked
//!    from the header, the body parsed; hands it to the writer.
//! 2. `actions/submission.rs` — `Submission::parse`: every field checked at
//!    the edge (evidence through `evidence/parse.rs`), and `decided`, the
//!    request a decision makes of it.
//! 3. `actions/commit.rs` — the one writer: batches waiting submissions;
//!    per batch one transaction authenticates each key, decides, writes,
//!    audits and counts, then answers everyone after the commit.
//! 4. `policy/facts.rs` — `decide_now`: the facts the rule book needs from
//!    the database (first use, the last hour's count), over the cached
//!    index.
//! 5. `policy/decide.rs` — `decide`: the rule book itself, a pure function.
//! 6. `actions/store.rs` — `insert`: the request rows and their evidence.
//!
//! # An approval, top to bottom (5 files)
//!
//! 1. `actions/pages.rs` — the request page: Approve (as shown or edited)
//!    and Reject call the server functions.
//! 2. `actions/mod.rs` — `approve_action` / `reject_action`: the guard
//!    (`auth/session.rs`, a role that may decide) and the edited params
//!    parsed.
//! 3. `actions/review.rs` — `decide_request`: the payload the reviewer saw,
//!    distinct approvers, the sponsor bar, the edit checked against the
//!    grant, then the state move, rollups and audit in one transaction.
//! 4. `actions/store.rs` — `Move`: each state change a conditional update
//!    naming the states it may leave; `unmoved` says why when it did not.
//! 5. `actions/service.rs` — expiry on touch, and the 409 for a request
//!    already decided.
//!
//! The agent then claims it (`actions/execute.rs`, the same `Move`), and
//! long-polls see the change through `AppState::changes` (`state.rs`), on
//! every replica (`replicas/`).
#![recursion_limit = "256"]

pub mod actions;
pub mod agents;
pub mod auth;
pub mod catalog;
pub mod change;
pub mod clock;
pub mod error;
pub mod evidence;
pub mod governance;
mod local_time;
pub mod mcp;
mod nav;
pub mod people;
pub mod policy;
pub mod quota;
pub mod rules;
pub mod runs;
pub mod scope;
pub mod slack;
pub mod text;
pub mod tokens;
pub mod trail;
pub mod trust;
mod ui;
pub mod webhooks;

#[cfg(feature = "ssr")]
pub mod audit;
#[cfg(feature = "ssr")]
pub mod canonical;
#[cfg(feature = "ssr")]
pub mod db;
#[cfg(feature = "ssr")]
pub mod openapi;
#[cfg(feature = "ssr")]
pub mod ops;
#[cfg(feature = "ssr")]
pub mod replicas;
#[cfg(feature = "ssr")]
pub mod sql;
#[cfg(feature = "ssr")]
pub mod state;

use leptos::prelude::*;
use leptos_meta::{provide_meta_context, MetaTags, Title};
use leptos_router::components::{Route, Router, Routes};
use leptos_router::path;

pub fn shell(options: LeptosOptions) -> impl IntoView {
    #[cfg(feature = "ssr")]
    content_security_policy();
    view! {
        <!DOCTYPE html>
        <html lang="en">
            <head>
                <meta charset="utf-8"/>
                <meta name="viewport" content="width=device-width, initial-scale=1"/>
                // Light or dark before the stylesheet arrives (style/main.css has both).
                <meta name="color-scheme" content="light dark"/>
                <link rel="icon" href="/favicon.svg" type="image/svg+xml"/>
                // In the shell, not the app: the release binary names its
                // front end's files by version (see server/src/site).
                <link
                    id="leptos"
                    rel="stylesheet"
                    href=format!("/{}/{}.css", options.site_pkg_dir, options.output_name)
                />
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

/// Every page's CSP: scripts only with this response's nonce (Leptos puts
/// it on its hydration and streaming scripts; the wasm they load inherits
/// trust through 'strict-dynamic'), nothing fetched or framed from other
/// origins, and no plugins, base tags or foreign form targets.
#[cfg(feature = "ssr")]
fn content_security_policy() {
    // Without a nonce (a page rendered outside the routes), no script runs.
    let scripts = match leptos::nonce::use_nonce() {
        Some(nonce) => format!("'nonce-{nonce}' 'strict-dynamic' 'wasm-unsafe-eval'"),
        None => "'none'".to_string(),
    };
    let policy = format!(
        "default-src 'self'; script-src {scripts}; \
         style-src 'self' 'unsafe-inline'; img-src 'self' data:; connect-src 'self'; \
         frame-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'self'; \
         object-src 'none'"
    );
    if let (Some(options), Ok(value)) = (
        use_context::<leptos_axum::ResponseOptions>(),
        axum::http::HeaderValue::from_str(&policy),
    ) {
        options.insert_header(axum::http::header::CONTENT_SECURITY_POLICY, value);
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
        <Title text="Belay"/>
        <Router>
            <nav::Nav/>
            <governance::OnePersonBanner/>
            <main>
                <Routes fallback=|| view! { <h1>"Page not found"</h1> }>
                    <Route path=path!("/") view=trust::DashboardPage/>
                    <Route path=path!("/login") view=auth::LoginPage/>
                    <Route path=path!("/approvals") view=actions::ApprovalsPage/>
                    <Route path=path!("/approvals/:id") view=actions::ActionPage/>
                    <Route path=path!("/agents") view=agents::AgentsPage/>
                    <Route path=path!("/agents/:id") view=agents::AgentPage/>
                    <Route path=path!("/runs/:id") view=runs::RunPage/>
                    <Route path=path!("/agents/:id/mcp") view=mcp::McpPage/>
                    <Route path=path!("/capabilities") view=catalog::CatalogPage/>
                    <Route path=path!("/policy") view=rules::PolicyPage/>
                    <Route path=path!("/simulate") view=rules::SimulatePage/>
                    <Route path=path!("/reviews") view=governance::ReviewsPage/>
                    <Route path=path!("/reviews/:id") view=governance::ReviewPage/>
                    <Route path=path!("/changes/:id") view=governance::ChangePage/>
                    <Route path=path!("/readiness") view=trust::ReadinessPage/>
                    <Route path=path!("/spot-checks") view=trust::SpotChecksPage/>
                    <Route path=path!("/audit") view=trail::AuditPage/>
                    <Route path=path!("/people") view=people::PeoplePage/>
                    <Route path=path!("/account") view=people::AccountPage/>
                    <Route path=path!("/webhooks") view=webhooks::WebhooksPage/>
                    <Route path=path!("/webhooks/:id") view=webhooks::WebhookPage/>
                    <Route path=path!("/slack") view=slack::SlackPage/>
                </Routes>
            </main>
        </Router>
    }
}
