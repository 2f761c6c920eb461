//! `belay user create`, `belay agent create`: administration from a shell.

use crate::config::{AgentCommand, UserCommand};
use crate::startup::StartupError;
use app::agents::store;
use app::audit::Actor;
use app::auth::{password, users, Role};
use app::db::Db;
use app::policy::Stage;
use std::io::Read;

pub async fn user(db: &Db, command: UserCommand) -> Result<(), StartupError> {
    match command {
        UserCommand::Create {
            username,
            role,
            password_stdin,
        } => {
            let role = Role::parse(&role)?;
            let (password, generated) = if password_stdin {
                let mut input = String::new();
                std::io::stdin()
                    .read_to_string(&mut input)
                    .map_err(|e| format!("cannot read the password from standard input: {e}"))?;
                (input.trim_end_matches(['\n', '\r']).to_string(), false)
            } else {
                (password::generate(), true)
            };
            let operator = Actor::Operator(format!("operator:{}", operator()));
            let user = users::create(db, &operator, &username, role, password.clone()).await?;
            println!(
                "Created {} {:?} (id {}).",
                user.role, user.username, user.id
            );
            if generated {
                println!("Password (shown once; store it now): {password}");
            }
            Ok(())
        }
        other => people(db, other).await,
    }
}

/// The people commands an admin also has in the browser, run as the operator.
async fn people(db: &Db, command: UserCommand) -> Result<(), StartupError> {
    let by = Actor::Operator(format!("operator:{}", operator()));
    match command {
        UserCommand::Deactivate { username } => {
            let id = app::people::store::id_of(db, &username).await?;
            app::people::store::set_active(db, &by, &id, false).await?;
            println!("Deactivated {username:?}; their sessions have ended.");
        }
        UserCommand::Reactivate { username } => {
            let id = app::people::store::id_of(db, &username).await?;
            app::people::store::set_active(db, &by, &id, true).await?;
            println!("Reactivated {username:?}.");
        }
        UserCommand::SetRole { username, role } => {
            let role = Role::parse(&role)?;
            let id = app::people::store::id_of(db, &username).await?;
            app::people::store::set_role(db, &by, &id, role).await?;
            println!("{username:?} is now {role}.");
        }
        UserCommand::ResetPassword { username } => {
            let id = app::people::store::id_of(db, &username).await?;
            let secret = app::people::store::reset_password(db, &by, &id).await?;
            println!("New password for {username:?} (shown once; hand it over now): {secret}");
        }
        UserCommand::Create { .. } => unreachable!("`user` handles create"),
    }
    Ok(())
}

pub async fn agent(db: &Db, command: AgentCommand) -> Result<(), StartupError> {
    match command {
        AgentCommand::Create {
            name,
            sponsor,
            stage,
            purpose,
        } => {
            let stage = Stage::parse(&stage)?;
            if stage > app::agents::stage::ALONE_UP_TO {
                // In the browser this takes a second lead; here it is the
                // operator's break-glass, and the audit trail says so.
                println!(
                    "Break-glass: registering above {} without a second lead's approval, as the operator {:?}; the audit trail records it.",
                    app::agents::stage::ALONE_UP_TO,
                    operator()
                );
            }
            let (agent, key) = store::create_with_key(
                db,
                &Actor::Operator(format!("operator:{}", operator())),
                store::NewAgent {
                    name: &name,
                    purpose: &purpose,
                    sponsor: &sponsor,
                    stage,
                },
            )
            .await?;
            println!(
                "Registered agent {:?} at stage {}.",
                agent.name, agent.stage
            );
            println!("id: {}", agent.id);
            println!("API key (shown once; store it now): {}", key.secret);
            Ok(())
        }
        AgentCommand::Quota {
            name,
            submissions_per_minute,
            pending,
            evidence_mib_per_day,
            long_polls,
        } => {
            use app::quota::limits::{own, parse, shown, Kind};
            let id = store::id_of(db, &name).await?;
            let mut conn = db.acquire().await.map_err(app::error::AppError::from)?;
            let mut mine = app::quota::store::read(&mut conn, &id).await?;
            drop(conn);
            let given = [
                (Kind::Submissions, submissions_per_minute),
                (Kind::Pending, pending),
                (Kind::EvidenceBytes, evidence_mib_per_day),
                (Kind::LongPolls, long_polls),
            ];
            let changing = given.iter().any(|(_, v)| v.is_some());
            for (kind, raw) in given {
                let Some(raw) = raw else { continue };
                let value = parse(kind, &raw)?;
                match kind {
                    Kind::Submissions => mine.submissions_per_minute = value,
                    Kind::Pending => mine.pending = value,
                    Kind::EvidenceBytes => mine.evidence_bytes_per_day = value,
                    Kind::LongPolls => mine.long_polls = value,
                }
            }
            if changing {
                let by = Actor::Operator(format!("operator:{}", operator()));
                app::quota::store::set(db, &by, &id, mine).await?;
                println!("Saved {name:?}'s quotas.");
            }
            for kind in Kind::ALL {
                let value = own(&mine, kind)
                    .map(|v| shown(kind, v).to_string())
                    .unwrap_or_else(|| "default".into());
                println!("{}: {value}", kind.as_str());
            }
            Ok(())
        }
    }
}

/// `belay mcp …`: the MCP gateway's upstreams, registered as the operator.
pub async fn mcp(db: &Db, command: crate::config::McpCommand) -> Result<(), StartupError> {
    let by = Actor::Operator(format!("operator:{}", operator()));
    crate::mcp::cli::run(db, &by, command).await
}

/// Who runs this command, as the audit trail names the operator.
fn operator() -> String {
    std::env::var("USER")
        .or_else(|_| std::env::var("LOGNAME"))
        .unwrap_or_else(|_| "unknown".into())
}
