//! The MCP gateway at `/mcp` (Streamable HTTP): an agent's MCP client
//! points here instead of at its tool servers, and every tool call passes
//! the rule book like a REST submission. The agent authenticates exactly
//! as on the REST API (`Authorization: Bearer <key>`): a missing or wrong
//! key is 401 and a suspended agent 403, before any MCP is read.

mod call;
pub mod cli;
mod gateway;
mod hold;
mod join;
mod known;
mod stdio;
pub mod upstreams;

pub use stdio::serve_stdio;

use crate::api::agent_auth::bearer;
use crate::api::quota::Quotas;
use app::actions::commit::Committer;
use app::auth::agent::{self, Principal};
use app::error::AppError;
use app::state::AppState;
use axum::extract::{Request, State};
use axum::middleware::Next;
use axum::response::Response;
use axum::Router;
use rmcp::transport::streamable_http_server::session::never::NeverSessionManager;
use rmcp::transport::streamable_http_server::{StreamableHttpServerConfig, StreamableHttpService};
use std::sync::Arc;
use std::time::Duration;
use tracing::Instrument;

/// Who is calling, for the gateway's handlers (set by `guard`).
#[derive(Clone)]
pub struct Caller {
    pub agent: Principal,
    /// SHA-256 of the key: the writer checks it again as it decides.
    pub key_hash: String,
    /// The policy epoch read as the key was checked.
    pub epoch: i64,
}

/// The gateway's route, `/mcp`, to merge into the server's router. A held
/// call waits up to `wait` (at most the server's longest long-poll) for
/// people to decide; new requests count against the agent's submissions a
/// minute in `quotas`, the REST API's.
pub fn router(
    state: &AppState,
    (writer, quotas): (Committer, Arc<Quotas>),
    wait: Duration,
) -> Router<AppState> {
    let wait = wait.min(Duration::from_secs(state.settings.max_wait_secs));
    let gate = call::Gate {
        state: state.clone(),
        writer,
        quotas,
        upstreams: Arc::new(upstreams::Upstreams::default()),
        known: Arc::default(),
        in_flight: Arc::default(),
        wait,
    };
    // Host names are checked by Belay's own allow-list, outermost.
    // Stateless: every POST is answered on its own, by whichever replica
    // gets it, so a load balancer needs no sticky sessions. The gateway
    // keeps nothing per session (the caller is authenticated on every
    // request, a held call waits inside its own POST, and a retry finds
    // its request in the database), and upstream connections are per
    // replica. A call answered at once is plain JSON; a held one sends a
    // notice first, which makes its answer an SSE stream whose keep-alive
    // comments keep a proxy from closing it as idle (see `hold`).
    let config = StreamableHttpServerConfig::default()
        .disable_allowed_hosts()
        .with_legacy_session_mode(false)
        .with_json_response(true);
    let service = StreamableHttpService::new(
        move || {
            Ok(gateway::Gateway {
                gate: gate.clone(),
                key: None,
            })
        },
        NeverSessionManager::default().into(),
        config,
    );
    Router::new()
        .route_service("/mcp", service)
        .route_layer(axum::middleware::from_fn_with_state(state.clone(), guard))
}

/// The agent's key, checked before anything else is read.
async fn guard(
    State(state): State<AppState>,
    mut req: Request,
    next: Next,
) -> Result<Response, AppError> {
    let (mut parts, body) = req.into_parts();
    let token = bearer(&parts)?.to_string();
    let (agent, epoch) = agent::authenticate_at(&state, &token)
        .instrument(tracing::debug_span!("mcp.auth"))
        .await?;
    tracing::Span::current().record("agent", agent.name.as_str());
    parts.extensions.insert(Caller {
        agent,
        key_hash: app::auth::keys::hash(&token),
        epoch,
    });
    req = Request::from_parts(parts, body);
    Ok(next.run(req).await)
}
