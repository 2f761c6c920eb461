//! Slack approvals, the server's half: flags, the Slack Web API client, the
//! signed endpoints Slack calls (`endpoint.rs`) and the worker that posts
//! and updates messages from the outbox (`worker.rs`). What a message
//! shows is in `message.rs`; the tables and the decision are in
//! `app::slack`.

mod api;
mod endpoint;
mod message;
pub mod signature;
mod worker;

use app::state::AppState;
use axum::Router;
use std::path::PathBuf;
use std::sync::Arc;

pub use worker::run as run_worker;

/// Slack's Web API.
pub const SLACK_API: &str = "https://slack.com/api";

/// The Slack app. Its signing secret and bot token are read from an
/// environment variable or a file at startup, never stored in the database
/// nor logged; give both or neither.
#[derive(clap::Args, Clone, Debug)]
pub struct SlackArgs {
    /// The environment variable holding the Slack app's signing secret.
    #[arg(
        long,
        env = "BELAY_SLACK_SIGNING_SECRET_ENV",
        conflicts_with = "slack_signing_secret_file"
    )]
    pub slack_signing_secret_env: Option<String>,
    /// The file holding the Slack app's signing secret.
    #[arg(long, env = "BELAY_SLACK_SIGNING_SECRET_FILE")]
    pub slack_signing_secret_file: Option<PathBuf>,
    /// The environment variable holding the Slack bot token (`xoxb-…`).
    #[arg(
        long,
        env = "BELAY_SLACK_BOT_TOKEN_ENV",
        conflicts_with = "slack_bot_token_file"
    )]
    pub slack_bot_token_env: Option<String>,
    /// The file holding the Slack bot token.
    #[arg(long, env = "BELAY_SLACK_BOT_TOKEN_FILE")]
    pub slack_bot_token_file: Option<PathBuf>,
    /// Slack's Web API (a test points it at a fake).
    #[arg(long, env = "BELAY_SLACK_API_BASE", default_value = SLACK_API)]
    pub slack_api_base: String,
    /// Where people reach Belay (`https://belay.example.com`), for the link
    /// to each request in its Slack message. Default: the listen address.
    #[arg(long, env = "BELAY_SLACK_LINK_BASE")]
    pub slack_link_base: Option<String>,
}

impl Default for SlackArgs {
    fn default() -> Self {
        SlackArgs {
            slack_signing_secret_env: None,
            slack_signing_secret_file: None,
            slack_bot_token_env: None,
            slack_bot_token_file: None,
            slack_api_base: SLACK_API.into(),
            slack_link_base: None,
        }
    }
}

/// A secret read from the environment or a file; `Debug` never shows it.
#[derive(Clone)]
pub struct Secret(String);

impl std::fmt::Debug for Secret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("***")
    }
}

fn read_secret(
    what: &str,
    env: &Option<String>,
    file: &Option<PathBuf>,
) -> Result<Option<Secret>, String> {
    let value = match (env, file) {
        (Some(name), _) => std::env::var(name)
            .map_err(|_| format!("the {what}'s environment variable {name} is not set"))?,
        (None, Some(path)) => std::fs::read_to_string(path)
            .map_err(|e| format!("cannot read the {what} from {}: {e}", path.display()))?,
        (None, None) => return Ok(None),
    };
    let value = value.trim().to_string();
    if value.is_empty() {
        return Err(format!("the {what} is empty"));
    }
    Ok(Some(Secret(value)))
}

/// The configured Slack app.
#[derive(Debug)]
pub struct Slack {
    signing_secret: Secret,
    api: api::SlackApi,
    link_base: String,
}

impl Slack {
    /// The Slack app the flags configure, if they configure one.
    pub fn from_args(
        args: &SlackArgs,
        listen: std::net::SocketAddr,
    ) -> Result<Option<Arc<Slack>>, String> {
        let secret = read_secret(
            "Slack signing secret",
            &args.slack_signing_secret_env,
            &args.slack_signing_secret_file,
        )?;
        let token = read_secret(
            "Slack bot token",
            &args.slack_bot_token_env,
            &args.slack_bot_token_file,
        )?;
        let (signing_secret, token) = match (secret, token) {
            (None, None) => return Ok(None),
            (Some(s), Some(t)) => (s, t),
            _ => return Err("Slack needs both its signing secret and its bot token".into()),
        };
        let link_base = match &args.slack_link_base {
            Some(base) => base.trim_end_matches('/').to_string(),
            None => {
                tracing::warn!("no --slack-link-base: links in Slack point at the listen address");
                format!("http://{listen}")
            }
        };
        let api = api::SlackApi::new(&args.slack_api_base, token)?;
        Ok(Some(Arc::new(Slack {
            signing_secret,
            api,
            link_base,
        })))
    }

    fn link(&self, action_id: &str) -> String {
        format!("{}/approvals/{action_id}", self.link_base)
    }
}

/// The endpoints Slack calls, when a Slack app is configured; outside the
/// pages' sign-in and CSRF (Slack's signature authenticates each request).
pub fn routes(slack: Option<&Arc<Slack>>) -> Router<AppState> {
    match slack {
        Some(slack) => endpoint::router(slack.clone()),
        None => Router::new(),
    }
}
