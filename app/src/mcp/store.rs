//! The owner of `mcp_upstreams` and `mcp_tools`: registering an agent's
//! upstream (with a catalog entry per tool) and reading what an agent
//! reaches. Registration bumps the policy epoch first, like every change
//! the decision reads, and is audited in the same transaction.

use super::endpoint::{BearerFrom, Endpoint};
use super::{capability_for, triggers_for, ToolHints, UpstreamName};
use crate::audit::{self, Actor};
use crate::auth::UserView;
use crate::catalog::store::{add_by_lead, add_by_operator, NewCapability};
use crate::change::Saved;
use crate::db::{new_id, now_ms, Db};
use crate::error::{stored, AppError};
use crate::policy::store::bump_epoch;
use crate::policy::Trigger;
use sqlx::Row;

/// Most tools one upstream may register.
pub const MAX_TOOLS: usize = 200;

/// A tool as the upstream listed it.
pub struct NewTool {
    /// The exact name upstream.
    pub name: String,
    pub description: Option<String>,
    pub hints: ToolHints,
    /// The whole tool definition as listed (JSON), served to the agent.
    pub definition: serde_json::Value,
}

/// One registered tool, as `belay mcp add-upstream` and the page report it.
#[derive(Debug, Clone)]
pub struct RegisteredTool {
    pub tool: String,
    pub capability: String,
    pub triggers: Vec<Trigger>,
    /// False: the catalog already had the entry, kept as leads keep it (or
    /// it waits for a second lead: `proposal`).
    pub added: bool,
    /// The change request that adds the entry once another lead approves.
    pub proposal: Option<String>,
}

/// Who registers an upstream: the operator (the CLI; new catalog entries
/// are break-glass), or a lead in the browser (new entries under the
/// two-person rule; only URL upstreams, since a command runs on the server).
pub enum By<'a> {
    Operator(&'a Actor),
    Lead { user: &'a UserView, reason: &'a str },
}

impl By<'_> {
    fn actor(&self) -> Actor {
        match self {
            By::Operator(a) => (*a).clone(),
            By::Lead { user, .. } => Actor::User(user.id.clone()),
        }
    }
}

/// An agent's upstream with its tools.
#[derive(Debug, Clone)]
pub struct Upstream {
    pub id: String,
    pub agent_id: String,
    pub name: String,
    /// How Belay reaches it.
    pub endpoint: Endpoint,
    pub tools: Vec<Tool>,
}

/// A tool of an upstream and the capability a call to it is decided as.
#[derive(Debug, Clone)]
pub struct Tool {
    pub tool: String,
    pub capability: String,
    pub definition: serde_json::Value,
}

/// Registers (or re-registers, replacing its tools) an upstream for the
/// agent named `agent`, adding a catalog entry for each tool the catalog
/// does not have yet, with triggers from the tool's hints.
#[tracing::instrument(skip(db, by, endpoint, tools), fields(upstream = %upstream.as_str()))]
pub async fn register(
    db: &Db,
    by: &By<'_>,
    agent: &str,
    upstream: &UpstreamName,
    endpoint: &Endpoint,
    tools: Vec<NewTool>,
) -> Result<Vec<RegisteredTool>, AppError> {
    let (command, url, bearer) = match endpoint {
        Endpoint::Stdio(argv) => (super::endpoint::parse_command(argv)?, None, None),
        Endpoint::Http { url, bearer } => (
            vec![],
            Some(super::endpoint::parse_url(url)?),
            bearer.as_ref().map(BearerFrom::stored),
        ),
    };
    if tools.len() > MAX_TOOLS {
        return Err(AppError::validation(format!(
            "the upstream lists {} tools; at most {MAX_TOOLS} are registered",
            tools.len()
        )));
    }
    let actor = by.actor();
    let created_by = match &actor {
        Actor::User(id) | Actor::Operator(id) => id.clone(),
        Actor::Agent(_) | Actor::System => {
            return Err(AppError::Forbidden(
                "an upstream is registered by a person or the operator".into(),
            ))
        }
    };
    let command_json = serde_json::to_string(&command).map_err(|_| AppError::Internal)?;
    let mut tx = db.begin().await?;
    // First, so this change and the decision writer serialize on the epoch.
    bump_epoch(&mut tx).await?;
    let agent_id: String = sqlx::query("SELECT id FROM agents WHERE name = $1")
        .bind(agent)
        .fetch_optional(&mut *tx)
        .await?
        .ok_or_else(|| AppError::NotFound(format!("no agent is named {agent:?}")))?
        .try_get("id")?;
    let before =
        sqlx::query("SELECT id, command, url FROM mcp_upstreams WHERE agent_id = $1 AND name = $2")
            .bind(&agent_id)
            .bind(upstream.as_str())
            .fetch_optional(&mut *tx)
            .await?;
    let (id, before) = match before {
        Some(r) => {
            let id: String = r.try_get("id")?;
            let old: String = r.try_get("command")?;
            let old_url: Option<String> = r.try_get("url")?;
            let old_tools = tool_names(&mut tx, &id).await?;
            // A lead may list a command upstream's tools again, never change its command.
            let same_command = old == command_json && old_url.is_none();
            if matches!(by, By::Lead { .. }) && !command.is_empty() && !same_command {
                return Err(lead_no_command());
            }
            sqlx::query("DELETE FROM mcp_tools WHERE upstream_id = $1")
                .bind(&id)
                .execute(&mut *tx)
                .await?;
            sqlx::query(
                "UPDATE mcp_upstreams SET command = $1, url = $2, bearer_from = $3 WHERE id = $4",
            )
            .bind(&command_json)
            .bind(url.clone())
            .bind(bearer.clone())
            .bind(&id)
            .execute(&mut *tx)
            .await?;
            let old: serde_json::Value = stored(serde_json::from_str(&old))?;
            (
                id,
                Some(serde_json::json!({ "command": old, "url": old_url, "tools": old_tools })),
            )
        }
        None if matches!(by, By::Lead { .. }) && !command.is_empty() => {
            return Err(lead_no_command())
        }
        None => {
            let id = new_id();
            sqlx::query(
                "INSERT INTO mcp_upstreams (id, agent_id, name, command, url, bearer_from, created_by, created_at) \
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
            )
            .bind(&id)
            .bind(&agent_id)
            .bind(upstream.as_str())
            .bind(&command_json)
            .bind(url.clone())
            .bind(bearer.clone())
            .bind(&created_by)
            .bind(now_ms())
            .execute(&mut *tx)
            .await?;
            (id, None)
        }
    };
    let mut taken: Vec<String> = Vec::new();
    let mut out = Vec::new();
    for t in tools {
        if t.name.is_empty()
            || t.name.len() > 200
            || out.iter().any(|o: &RegisteredTool| o.tool == t.name)
        {
            return Err(AppError::Validation(format!(
                "the upstream lists a tool named {:?}: names are 1 to 200 bytes and unique",
                t.name
            )));
        }
        let capability = capability_for(upstream, &t.name, &taken);
        taken.push(capability.clone());
        let triggers = triggers_for(t.hints);
        let described = t
            .description
            .as_deref()
            .map(str::trim)
            .filter(|d| !d.is_empty())
            .map(|d| d.chars().take(400).collect::<String>())
            .unwrap_or_else(|| "no description given".into());
        let description = format!("MCP tool {} of {}: {described}", t.name, upstream.as_str());
        let description: String = description.chars().take(500).collect();
        let new = NewCapability {
            name: &capability,
            description: &description,
            triggers: triggers.clone(),
            reversible: false,
        };
        let (added, proposal) = match by {
            By::Operator(operator) => (add_by_operator(&mut tx, operator, new).await?, None),
            By::Lead { user, reason } => {
                let why = if reason.trim().is_empty() {
                    format!(
                        "{} of upstream {} lists it as read-only",
                        t.name,
                        upstream.as_str()
                    )
                } else {
                    reason.to_string()
                };
                match add_by_lead(&mut tx, user, new, &why).await? {
                    Some(Saved::Applied(_)) => (true, None),
                    Some(Saved::Proposed(p)) => (false, Some(p.change_id)),
                    None => (false, None),
                }
            }
        };
        sqlx::query(
            "INSERT INTO mcp_tools (upstream_id, tool, capability, definition) VALUES ($1, $2, $3, $4)",
        )
        .bind(&id)
        .bind(&t.name)
        .bind(&capability)
        .bind(t.definition.to_string())
        .execute(&mut *tx)
        .await?;
        out.push(RegisteredTool {
            tool: t.name,
            capability,
            triggers,
            added,
            proposal,
        });
    }
    let after = serde_json::json!({
        "agent": agent,
        // Where the token is read, never the token.
        "command": command, "url": url, "bearer_from": bearer,
        "tools": out.iter().map(|t| serde_json::json!({
            "tool": t.tool, "capability": t.capability, "catalog_entry_added": t.added,
            "catalog_entry_proposed": t.proposal,
        })).collect::<Vec<_>>(),
    });
    audit::record(
        &mut tx,
        audit::Event {
            actor: &actor,
            what: if before.is_some() {
                "mcp.upstream_changed"
            } else {
                "mcp.upstream_added"
            },
            subject_kind: "agent",
            subject_id: &agent_id,
            detail: serde_json::json!({ "upstream": upstream.as_str(), "before": before, "after": after }),
        },
    )
    .await?;
    tx.commit().await?;
    Ok(out)
}

fn lead_no_command() -> AppError {
    AppError::Forbidden(
        "a command upstream runs a program on the server, so only the operator registers or changes one (belay mcp add-upstream)".into(),
    )
}

async fn tool_names(
    tx: &mut crate::db::Tx<'_>,
    upstream_id: &str,
) -> Result<Vec<String>, AppError> {
    Ok(
        sqlx::query("SELECT tool FROM mcp_tools WHERE upstream_id = $1 ORDER BY tool")
            .bind(upstream_id)
            .fetch_all(&mut **tx)
            .await?
            .iter()
            .map(|r| r.try_get("tool"))
            .collect::<Result<_, _>>()?,
    )
}

/// The agent's upstreams with their tools, by name.
pub async fn for_agent(db: &Db, agent_id: &str) -> Result<Vec<Upstream>, AppError> {
    let rows = sqlx::query(
        "SELECT u.id, u.agent_id, u.name, u.command, u.url, u.bearer_from, t.tool, t.capability, t.definition \
         FROM mcp_upstreams u LEFT JOIN mcp_tools t ON t.upstream_id = u.id \
         WHERE u.agent_id = $1 ORDER BY u.name, t.tool",
    )
    .bind(agent_id)
    .fetch_all(db)
    .await?;
    let mut out: Vec<Upstream> = Vec::new();
    for r in rows {
        let id: String = r.try_get("id")?;
        if out.last().is_none_or(|u| u.id != id) {
            let command: String = r.try_get("command")?;
            let url: Option<String> = r.try_get("url")?;
            let bearer: Option<String> = r.try_get("bearer_from")?;
            let endpoint = match url {
                Some(url) => Endpoint::Http {
                    url,
                    bearer: bearer
                        .as_deref()
                        .map(BearerFrom::parse)
                        .transpose()
                        .map_err(|_| AppError::Internal)?,
                },
                None => Endpoint::Stdio(stored(serde_json::from_str(&command))?),
            };
            out.push(Upstream {
                id,
                agent_id: r.try_get("agent_id")?,
                name: r.try_get("name")?,
                endpoint,
                tools: vec![],
            });
        }
        let tool: Option<String> = r.try_get("tool")?;
        if let (Some(tool), Some(u)) = (tool, out.last_mut()) {
            let definition: String = r.try_get("definition")?;
            u.tools.push(Tool {
                tool,
                capability: r.try_get("capability")?,
                definition: stored(serde_json::from_str(&definition))?,
            });
        }
    }
    Ok(out)
}

/// `for_agent`, by the agent's name.
pub async fn for_agent_named(db: &Db, agent: &str) -> Result<Vec<Upstream>, AppError> {
    let id = crate::agents::store::id_of(db, agent).await?;
    for_agent(db, &id).await
}
