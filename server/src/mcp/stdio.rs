//! `belay mcp stdio --agent-key KEY`: the gateway over stdio, for a local
//! MCP client that starts its tool servers itself. It opens the database
//! like `belay serve` (several processes share one database, as replicas
//! do) and decides every call with the same rule book and writer; nothing
//! but MCP is written to stdout.

use super::call::Gate;
use super::gateway::Gateway;
use super::upstreams::Upstreams;
use crate::api::quota::Quotas;
use app::actions::commit::Committer;
use app::state::{AppState, ServerSettings};
use rmcp::ServiceExt;
use std::sync::Arc;
use std::time::Duration;

/// Serves until the client closes stdin. `db` is opened and migrated.
pub async fn serve_stdio(
    db: app::db::Db,
    key: String,
    wait_secs: u64,
) -> Result<(), Box<dyn std::error::Error + Send + Sync>> {
    let options = leptos::config::LeptosOptions::builder()
        .output_name("belay")
        .build();
    let state = AppState::new(db, ServerSettings::default(), options);
    // On PostgreSQL, a decision made in `belay serve` wakes a wait here.
    let _replicas = app::replicas::start(&state);
    // Refuse a bad key at once, rather than on the client's first call.
    let agent = app::auth::agent::authenticate(&state, &key).await?;
    tracing::info!(agent = %agent.name, "serving the MCP gateway over stdio");
    let wait = Duration::from_secs(wait_secs.min(state.settings.max_wait_secs));
    let gateway = Gateway {
        gate: Gate {
            writer: Committer::start(&state),
            quotas: Arc::new(Quotas::default()),
            upstreams: Arc::new(Upstreams::default()),
            known: Arc::default(),
            in_flight: Arc::default(),
            state,
            wait,
        },
        key: Some(Arc::new(key)),
    };
    let service = gateway
        .serve(rmcp::transport::stdio())
        .await
        .map_err(|e| format!("the MCP client did not complete the handshake: {e}"))?;
    service.waiting().await?;
    Ok(())
}
