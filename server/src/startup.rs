//! Building and running the server. `build` binds the listener (port 0
//! works) and migrates, so tests drive exactly what `belay serve` runs.

use crate::config::Config;
use crate::{api, web};
use app::actions::commit::Committer;
use app::db::{self, Backend};
use app::state::{AppState, ServerSettings};
use axum::body::Body;
use axum::extract::{Request, State};
use axum::response::IntoResponse;
use axum::routing::{any, get};
use axum::serve::ListenerExt;
use axum::Router;
use leptos::prelude::*;
use leptos_axum::{generate_route_list, LeptosRoutes};
use std::future::Future;
use std::time::Duration;
use tokio::net::TcpListener;
use tower_http::trace::TraceLayer;
use tower_sessions::ExpiredDeletion;
use tower_sessions_sqlx_store::{PostgresStore, SqliteStore};

pub type StartupError = Box<dyn std::error::Error + Send + Sync>;

pub struct Application {
    listener: TcpListener,
    router: Router,
    state: AppState,
    sessions: Sessions,
    /// `/metrics`, on its own listener (see `ops`).
    metrics: Option<(TcpListener, Router)>,
    /// On PostgreSQL, what keeps this replica in step with the others.
    replicas: Option<app::replicas::Replicas>,
    webhooks: crate::webhooks::WebhookArgs,
    /// The Slack app, when one is configured (its worker runs with the server).
    slack: Option<std::sync::Arc<crate::slack::Slack>>,
}

#[derive(Clone)]
enum Sessions {
    Sqlite(SqliteStore),
    Postgres(PostgresStore),
}

impl Sessions {
    async fn delete_expired(&self) -> Result<(), tower_sessions::session_store::Error> {
        match self {
            Sessions::Sqlite(s) => s.delete_expired().await,
            Sessions::Postgres(s) => s.delete_expired().await,
        }
    }
}

/// Connects and migrates; used by `serve`, `migrate` and the CLI.
pub async fn open_database(url: &str) -> Result<db::Db, StartupError> {
    let pool = db::connect(url)
        .await
        .map_err(|e| format!("cannot open the database {}: {e}", db::redact_url(url)))?;
    db::migrate(&pool, url)
        .await
        .map_err(|e| format!("cannot migrate the database: {e}"))?;
    app::policy::store::ensure_policy(&pool)
        .await
        .map_err(|e| format!("cannot write the default policy: {e}"))?;
    let sealed = app::audit::chain::seal_unchained(&pool)
        .await
        .map_err(|e| format!("cannot seal earlier audit events into the chain: {e}"))?;
    if sealed > 0 {
        tracing::info!(sealed, "earlier audit events sealed into the hash chain");
    }
    let rehashed = app::actions::rehash::once(&pool)
        .await
        .map_err(|e| format!("cannot move payload hashes to canonical JSON: {e}"))?;
    if rehashed > 0 {
        tracing::info!(
            rehashed,
            "open requests now bind to canonical-JSON payload hashes"
        );
    }
    Ok(pool)
}

impl Application {
    pub async fn build(config: Config) -> Result<Self, StartupError> {
        let pool = open_database(&config.database_url).await?;
        let sessions = match Backend::of(&config.database_url)? {
            Backend::Sqlite => {
                let url = db::prepare_sqlite_url(&config.database_url)?;
                let pool = sqlx::sqlite::SqlitePoolOptions::new()
                    .max_connections(4)
                    .connect(&url)
                    .await?;
                let store = SqliteStore::new(pool);
                store.migrate().await?;
                Sessions::Sqlite(store)
            }
            Backend::Postgres => {
                let pool = sqlx::postgres::PgPoolOptions::new()
                    .max_connections(4)
                    .connect(&config.database_url)
                    .await?;
                let store = PostgresStore::new(pool);
                store.migrate().await?;
                Sessions::Postgres(store)
            }
        };

        let listener = TcpListener::bind(config.serve.addr)
            .await
            .map_err(|e| format!("cannot listen on {}: {e}", config.serve.addr))?;
        let addr = listener.local_addr()?;
        let leptos_options = crate::site::options(&config.serve.site_root, addr);
        let settings = ServerSettings {
            quotas: config.serve.quotas(),
            trusted_proxies: app::auth::client::TrustedProxies::parse(
                &config.serve.trusted_proxies,
            )?,
            ..ServerSettings::default()
        };
        let state = AppState::new(pool, settings, leptos_options.clone());
        let slack = crate::slack::Slack::from_args(&config.serve.slack, addr)?;
        if slack.is_some() {
            app::slack::outbox::enable();
        }
        let (metrics_addr, token) = (
            config.serve.metrics_addr,
            config.serve.metrics_token.as_deref(),
        );
        let metrics = crate::ops::listen(metrics_addr, token, &state).await?;
        let replicas = app::replicas::start(&state);
        // The one writer that decides and group-commits submissions.
        let writer = Committer::start(&state);

        // Once per process: listing the routes renders the app with a
        // process-wide flag set that leaves every resource created meanwhile
        // loading forever, so in a process with several servers (the tests)
        // a page served during another server's start would never finish.
        static ROUTES: std::sync::OnceLock<Vec<leptos_axum::AxumRouteListing>> =
            std::sync::OnceLock::new();
        let routes = ROUTES.get_or_init(|| generate_route_list(app::App)).clone();
        let mcp = crate::mcp::upstreams::connector(
            config.serve.mcp_wait_secs.min(state.settings.max_wait_secs),
        );
        let web = Router::new()
            .route("/rpc/{*fn_name}", any(server_fn))
            .layer(axum::Extension(mcp.clone()))
            .route("/approvals/events", get(crate::events::queue_events))
            .route("/evidence/{id}/raw", get(crate::evidence::raw))
            .leptos_routes_with_context(
                &state,
                routes,
                {
                    let state = state.clone();
                    move || {
                        provide_context(state.clone());
                        provide_context(mcp.clone());
                        // A fresh nonce per page, for its CSP (see app::shell).
                        leptos::nonce::provide_nonce();
                    }
                },
                {
                    let options = leptos_options.clone();
                    move || app::shell(options.clone())
                },
            )
            .fallback(crate::site::fallback({
                let state = state.clone();
                move || {
                    provide_context(state.clone());
                    leptos::nonce::provide_nonce();
                }
            }))
            .layer(axum::middleware::from_fn_with_state(
                state.clone(),
                web::require_sign_in,
            ))
            .layer(axum::middleware::from_fn(web::csrf));
        let secure = config.serve.secure_cookies;
        let web = match &sessions {
            Sessions::Sqlite(s) => web
                .layer(axum::Extension(crate::events::Sessions::new(s.clone())))
                .layer(web::session_layer(s.clone(), secure)),
            Sessions::Postgres(s) => web
                .layer(axum::Extension(crate::events::Sessions::new(s.clone())))
                .layer(web::session_layer(s.clone(), secure)),
        };
        // The MCP gateway, like the API, is outside the pages' sign-in and CSRF.
        let quotas = std::sync::Arc::new(api::quota::Quotas::default());
        let gateway = crate::mcp::router(
            &state,
            (writer.clone(), quotas.clone()),
            Duration::from_secs(config.serve.mcp_wait_secs),
        );
        let router = web::with_security_headers(Router::new().nest("/api/v1", api::router(writer, quotas)).merge(gateway).merge(crate::slack::routes(slack.as_ref())).merge(crate::ops::router()).merge(web), config.serve.secure_cookies)
            .layer(TraceLayer::new_for_http().make_span_with(|req: &Request| {
                tracing::info_span!("request", method = %req.method(), path = %req.uri().path(), request_id = crate::request_id::of(req), agent = tracing::field::Empty)
            }))
            .layer(axum::middleware::from_fn_with_state(std::sync::Arc::new(state.settings.trusted_proxies.clone()), crate::request_id::assign))
            .with_state(state.clone())
            // Outermost: a request for another host name is refused first.
            .layer(axum::middleware::from_fn_with_state(
                std::sync::Arc::new(crate::hosts::AllowedHosts::new(
                    &config.serve.allowed_hosts,
                    addr,
                )),
                crate::hosts::check,
            ));

        Ok(Application {
            listener,
            router,
            state,
            sessions,
            metrics,
            replicas,
            webhooks: config.serve.webhooks.clone(),
            slack,
        })
    }

    pub fn metrics_port(&self) -> Option<u16> {
        let (listener, _) = self.metrics.as_ref()?;
        listener.local_addr().ok().map(|a| a.port())
    }

    pub fn port(&self) -> u16 {
        self.listener.local_addr().map(|a| a.port()).unwrap_or(0)
    }

    pub fn state(&self) -> &AppState {
        &self.state
    }

    /// Serves until `shutdown` resolves, then finishes in-flight requests.
    pub async fn run_until_stopped(
        self,
        shutdown: impl Future<Output = ()> + Send + 'static,
    ) -> std::io::Result<()> {
        let sweeper = tokio::spawn(sweep(self.state.clone(), self.sessions.clone()));
        let webhooks =
            crate::webhooks::start(&self.state, &self.webhooks).map_err(std::io::Error::other)?;
        let metrics = self.metrics.map(|(listener, router)| {
            tokio::spawn(async move { axum::serve(listener, router).await })
        });
        let replicas = self.replicas;
        let slack = self
            .slack
            .map(|slack| tokio::spawn(crate::slack::run_worker(self.state.clone(), slack)));
        // The peer address reaches handlers (sign-in throttling keys on it).
        let service = self
            .router
            .into_make_service_with_connect_info::<std::net::SocketAddr>();
        // No Nagle: a streamed page goes out in small writes, and each one
        // after the first would wait for the client's delayed ACK (40 ms).
        let listener = self.listener.tap_io(|tcp| {
            if let Err(e) = tcp.set_nodelay(true) {
                tracing::warn!(error = %e, "cannot set TCP_NODELAY");
            }
        });
        let result = axum::serve(listener, service)
            .with_graceful_shutdown(shutdown)
            .await;
        sweeper.abort();
        webhooks.abort();
        if let Some(worker) = slack {
            worker.abort();
        }
        if let Some(m) = metrics {
            m.abort();
        }
        drop(replicas);
        result
    }
}

async fn server_fn(
    State(state): State<AppState>,
    axum::Extension(mcp): axum::Extension<app::mcp::Connector>,
    req: Request<Body>,
) -> impl IntoResponse {
    leptos_axum::handle_server_fns_with_context(
        move || {
            provide_context(state.clone());
            provide_context(mcp.clone());
        },
        req,
    )
    .await
}

/// Background upkeep: overdue requests expire (expiry means no), queued
/// rejection-spike checks run, and expired sessions and day-old
/// idempotency keys are removed. One replica a period runs it; each step
/// is also safe run twice at once (conditional moves and deletes), should a
/// sweep outlast its period.
async fn sweep(state: AppState, sessions: Sessions) {
    let period = app::replicas::UPKEEP_EVERY_MS as u64;
    let mut every = tokio::time::interval(Duration::from_millis(period));
    loop {
        every.tick().await;
        match app::replicas::claim_upkeep(&state.db, app::db::now_ms()).await {
            Ok(true) => {}
            Ok(false) => continue,
            Err(e) => {
                tracing::warn!(error = %e, "cannot claim background upkeep; trying next period");
                continue;
            }
        }
        match app::actions::service::expire_due(&state).await {
            Ok(0) => {}
            Ok(n) => tracing::info!(expired = n, "expired overdue requests"),
            Err(e) => tracing::warn!(error = %e, "expiry sweep failed"),
        }
        if let Err(e) = app::trust::lower::run_checks(&state).await {
            tracing::error!(error = %e, "rejection-spike checks failed; retrying next sweep");
        }
        let now = app::db::now_ms();
        if let Err(e) = app::actions::idempotency::forget_old(&state.db, now).await {
            tracing::warn!(error = %e, "idempotency key cleanup failed");
        }
        if let Err(e) = sessions.delete_expired().await {
            tracing::warn!(error = %e, "session cleanup failed");
        }
    }
}
