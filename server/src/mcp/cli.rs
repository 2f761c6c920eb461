//! `belay mcp add-upstream` and `belay mcp list`, run as the operator.

use crate::config::McpCommand;
use app::audit::Actor;
use app::db::Db;
use app::mcp::store::{self, NewTool};
use app::mcp::{ToolHints, UpstreamName};
use app::policy::Trigger;

type Failure = Box<dyn std::error::Error + Send + Sync>;

/// Runs a `belay mcp` command as `operator` (an `Actor::Operator`).
pub async fn run(db: &Db, operator: &Actor, command: McpCommand) -> Result<(), Failure> {
    match command {
        McpCommand::AddUpstream {
            agent,
            name,
            command,
        } => add_upstream(db, operator, &agent, &name, command).await,
        McpCommand::List { agent } => list(db, &agent).await,
        McpCommand::Stdio { .. } => Err("`belay mcp stdio` is served by `mcp::serve_stdio`".into()),
    }
}

async fn add_upstream(
    db: &Db,
    operator: &Actor,
    agent: &str,
    name: &str,
    command: Vec<String>,
) -> Result<(), Failure> {
    let upstream = UpstreamName::parse(name)?;
    let command = store::parse_command(&command)?;
    // Refuse an unknown agent before starting anything.
    app::agents::store::id_of(db, agent).await?;
    let listed = super::upstreams::list_tools(&command).await?;
    let tools = listed
        .into_iter()
        .map(|t| {
            let a = t.annotations.clone().unwrap_or_default();
            NewTool {
                name: t.name.to_string(),
                description: t.description.as_deref().map(str::to_string),
                hints: ToolHints {
                    read_only: a.read_only_hint,
                    destructive: a.destructive_hint,
                    open_world: a.open_world_hint,
                },
                definition: serde_json::to_value(&t).unwrap_or_default(),
            }
        })
        .collect();
    let registered = store::register(db, operator, agent, &upstream, &command, tools).await?;
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
        println!("{}: {}", u.name, shell_words(&u.command));
        for t in &u.tools {
            println!("  {} -> {}", t.tool, t.capability);
        }
    }
    Ok(())
}

/// The argv as one could type it again.
fn shell_words(argv: &[String]) -> String {
    argv.iter()
        .map(|a| {
            if !a.is_empty()
                && a.chars()
                    .all(|c| c.is_ascii_alphanumeric() || "-_./=:@,+".contains(c))
            {
                a.clone()
            } else {
                format!("'{}'", a.replace('\'', r"'\''"))
            }
        })
        .collect::<Vec<_>>()
        .join(" ")
}
