//! The one application state, shared by REST handlers (axum `State`) and
//! server functions (Leptos context). It holds what every feature shares
//! (the database, the change feed, the decision's cached index, settings)
//! and owns no feature: the submission writer is started and held by the
//! agent API that uses it.

use crate::db::Db;
use crate::policy::store::PolicyCache;
use crate::replicas::feed::ChangeFeed;
use std::sync::Arc;

#[derive(Clone)]
pub struct AppState {
    pub db: Db,
    pub settings: Arc<ServerSettings>,
    /// Ids of action requests that were just submitted for approval or
    /// changed state, here or (on PostgreSQL) on another replica;
    /// long-polls and the live queue listen here.
    pub changes: Arc<ChangeFeed>,
    /// What the decision reads, cached until the policy epoch moves.
    pub policy: Arc<PolicyCache>,
    /// Sign-in back-off and the bound on concurrent password hashes.
    pub sign_in: Arc<crate::auth::throttle::SignInGuard>,
    /// Quota refusals and open long-polls, counted on this replica.
    pub quota: Arc<crate::quota::usage::Usage>,
    /// What this replica counts for Prometheus (`/metrics`).
    pub metrics: Arc<crate::ops::metrics::Metrics>,
    pub leptos_options: leptos::config::LeptosOptions,
}

/// Product settings the rule book reads.
#[derive(Debug, Clone)]
pub struct ServerSettings {
    /// Upper bound on `?wait=` for long-polls.
    pub max_wait_secs: u64,
    /// Every agent's quotas, unless it has its own.
    pub quotas: crate::quota::limits::Limits,
    /// Reverse proxies whose `X-Forwarded-For` names the client.
    pub trusted_proxies: crate::auth::client::TrustedProxies,
}

impl Default for ServerSettings {
    fn default() -> Self {
        ServerSettings {
            max_wait_secs: 60,
            quotas: Default::default(),
            trusted_proxies: Default::default(),
        }
    }
}

impl AppState {
    pub fn new(
        db: Db,
        settings: ServerSettings,
        leptos_options: leptos::config::LeptosOptions,
    ) -> Self {
        let quota = Arc::new(crate::quota::usage::Usage::default());
        AppState {
            policy: Arc::new(PolicyCache::default()),
            sign_in: Arc::new(Default::default()),
            metrics: Arc::new(crate::ops::metrics::Metrics::new(quota.clone())),
            quota,
            db,
            settings: Arc::new(settings),
            changes: Arc::default(),
            leptos_options,
        }
    }

    /// Tell long-polls and the live queue, here and on every replica, that
    /// this request changed. Call after the change committed.
    pub fn notify_changed(&self, action_id: &str) {
        self.changes.send(action_id.to_string());
    }
}

impl axum::extract::FromRef<AppState> for leptos::config::LeptosOptions {
    fn from_ref(state: &AppState) -> Self {
        state.leptos_options.clone()
    }
}

/// The state, from inside a server function.
pub fn app_state() -> Result<AppState, crate::error::AppError> {
    leptos::prelude::use_context::<AppState>().ok_or_else(|| {
        tracing::error!("AppState missing from the server function context");
        crate::error::AppError::Internal
    })
}
