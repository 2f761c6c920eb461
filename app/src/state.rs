//! The one application state, shared by REST handlers (axum `State`) and
//! server functions (Leptos context).

use crate::actions::commit::Committer;
use crate::db::Db;
use crate::policy::store::PolicyCache;
use std::sync::Arc;
use tokio::sync::broadcast;

#[derive(Clone)]
pub struct AppState {
    pub db: Db,
    pub settings: Arc<Settings>,
    /// Ids of action requests that were just submitted for approval or
    /// changed state; long-polls and the live queue listen here.
    pub changes: broadcast::Sender<String>,
    /// What the decision reads, cached until the policy epoch moves.
    pub policy: Arc<PolicyCache>,
    /// The one writer that decides and group-commits submissions.
    pub committer: Committer,
    pub leptos_options: leptos::config::LeptosOptions,
}

/// Product settings the rule book reads.
#[derive(Debug, Clone)]
pub struct Settings {
    /// Upper bound on `?wait=` for long-polls.
    pub max_wait_secs: u64,
}

impl Default for Settings {
    fn default() -> Self {
        Settings { max_wait_secs: 60 }
    }
}

impl AppState {
    /// Must be called inside a Tokio runtime: it starts the submission writer.
    pub fn new(db: Db, settings: Settings, leptos_options: leptos::config::LeptosOptions) -> Self {
        let (changes, _) = broadcast::channel(1024);
        let policy = Arc::new(PolicyCache::default());
        AppState {
            committer: Committer::start(db.clone(), policy.clone(), changes.clone()),
            policy,
            db,
            settings: Arc::new(settings),
            changes,
            leptos_options,
        }
    }

    /// Tell long-polls that this request changed. Nobody listening is fine.
    pub fn notify_changed(&self, action_id: &str) {
        let _ = self.changes.send(action_id.to_string());
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
