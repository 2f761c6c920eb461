//! `belay mcp add-upstream` and `belay mcp list`, run as the operator.

use crate::config::McpCommand;
use app::audit::Actor;
use app::db::Db;
use app::mcp::endpoint::{self, BearerFrom, Endpoint};
use app::mcp::store;
use app::mcp::UpstreamName;
use app::policy::Trigger;

type Failure = Box<dyn std::error::Error + Send + Sync>;

/// Runs a `belay mcp` command as `operator` (an `Actor::Operator`).
pub async fn run(db: &Db, operator: &Actor, command: McpCommand) -> Result<(), Failure> {
    match command {
        McpCommand::AddUpstream {
            agent,
            name,
            url,
            bearer_env,
            bearer_file,
            command,
        } => {
            let endpoint = match url {
                Some(url) => Endpoint::Http {
                    url: endpoint::parse_url(&url)?,
                    bearer: match (bearer_env, bearer_file) {
                        (Some(name), _) => Some(BearerFrom::env(&name)?),
                        (None, Some(path)) => Some(BearerFrom::file(&path)?),
                        (None, None) => None,
                    },
                },
                None if bearer_env.is_some() || bearer_file.is_some() => {
                    return Err("a bearer token goes with --url".into())
                }
                None => Endpoint::Stdio(endpoint::parse_command(&command)?),
            };
            add_upstream(db, operator, &agent, &name, endpoint).await
        }
        McpCommand::List { agent } => list(db, &agent).await,
        McpCommand::Stdio { .. } => Err("`belay mcp stdio` is served by `mcp::serve_stdio`".into()),
    }
}

async fn add_upstream(
    db: &Db,
    operator: &Actor,
    agent: &str,
    name: &str,
    endpoint: Endpoint,
) -> Result<(), Failure> {
    let upstream = UpstreamName::parse(name)?;
    // Refuse an unknown agent before starting anything.
    app::agents::store::id_of(db, agent).await?;
    let tools = super::upstreams::list_tools(&endpoint).await?;
    let registered = store::register(
        db,
        &store::By::Operator(operator),
        agent,
        &upstream,
        &endpoint,
        tools,
    )
    .await?;
    println!(
        "Registered upstream {:?} for agent {agent:?} with {} tools:",
        upstream.as_str(),
        registered.len()
    );
    for t in &registered {
        let triggers = if t.triggers.is_empty() {
            "no risk triggers".to_string()
        } else {
            Trigger::join(&t.triggers)
        };
        let entry = if t.added {
            format!("added to the catalog ({triggers})")
        } else {
            "already in the catalog, kept as it is".to_string()
        };
        println!("  {} -> {}: {entry}", t.tool, t.capability);
    }
    if registered.iter().any(|t| t.added && t.triggers.is_empty()) {
        println!(
            "Break-glass: catalog entries without risk triggers were added without a second lead's approval, as the operator; the audit trail records it."
        );
    }
    println!(
        "Grant the agent these capabilities (its page, Scope) so calls are in scope; until then they are held for approval."
    );
    Ok(())
}

async fn list(db: &Db, agent: &str) -> Result<(), Failure> {
    let upstreams = store::for_agent_named(db, agent).await?;
    if upstreams.is_empty() {
        println!("Agent {agent:?} has no MCP upstreams.");
    }
    for u in upstreams {
        println!("{}: {}", u.name, u.endpoint);
        for t in &u.tools {
            println!("  {} -> {}", t.tool, t.capability);
        }
    }
    Ok(())
}
