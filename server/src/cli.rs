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
            let user = users::create(db, &Actor::System, &username, role, password.clone()).await?;
            println!(
                "Created {} {:?} (id {}).",
                user.role, user.username, user.id
            );
            if generated {
                println!("Password (shown once; store it now): {password}");
            }
            Ok(())
        }
    }
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
            let (agent, key) = store::create_with_key(
                db,
                &Actor::System,
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
    }
}
