//! `belay demo`: fills a fresh database with a realistic scene, through the
//! same rule book the API and the browser use (real decisions, real
//! approvals, real audit rows), so a newcomer sees a working queue at once.

mod scene;
mod screenshot;

use crate::startup::StartupError;
use app::actions::commit::{Committer, Submitted};
use app::actions::review::{self, Verdict};
use app::actions::submission::{Submission, SubmitRequest};
use app::actions::{claim, execute, service};
use app::agents::store::{self, NewAgent};
use app::audit::Actor;
use app::auth::agent::Principal;
use app::auth::{password, users, Role, UserView};
use app::db::{now_ms, Db};
use app::policy::Stage;
use app::state::{AppState, ServerSettings};
use serde_json::Value;

/// The people the demo signs in as, and what they do.
const PEOPLE: [(&str, Role); 5] = [
    ("admin", Role::Admin),
    ("lena", Role::Lead),
    ("rita", Role::Reviewer),
    ("sam", Role::Reviewer),
    ("audrey", Role::Auditor),
];

pub async fn run(db: Db) -> Result<(), StartupError> {
    if app::auth::users::count(&db).await? > 0 {
        return Err(
            "belay demo fills a fresh database, and this one already has users; \
                    point --database-url at a new file (e.g. sqlite://data/demo.db)"
                .into(),
        );
    }
    // No pages are served; the options only satisfy the shared state.
    let options = leptos::config::LeptosOptions::builder()
        .output_name("belay")
        .build();
    let state = AppState::new(db.clone(), ServerSettings::default(), options);
    let secret = password::generate();
    let mut people = Vec::new();
    for (name, role) in PEOPLE {
        people.push(users::create(&db, &Actor::System, name, role, secret.clone()).await?);
    }
    let writer = Committer::start(&state);
    let demo = Demo {
        state,
        writer,
        admin: people[0].clone(),
        lena: people[1].clone(),
        rita: people[2].clone(),
        sam: people[3].clone(),
    };
    let counts = scene::play(&demo).await?;
    println!("The demo scene is ready: {counts}.");
    println!();
    println!("People (all with the password below, shown once):");
    for (name, role) in PEOPLE {
        println!("    {name:<8} {role}");
    }
    println!("Password: {secret}");
    println!();
    println!("Start Belay on this database and sign in as rita to work the queue.");
    Ok(())
}

/// What the scene is played with.
pub(crate) struct Demo {
    state: AppState,
    writer: Committer,
    lena: UserView,
    rita: UserView,
    sam: UserView,
    admin: UserView,
}

/// A registered demo agent.
pub(crate) struct Agent {
    principal: Principal,
    key_hash: String,
}

impl Demo {
    async fn agent(&self, name: &str, purpose: &str, stage: Stage) -> Result<Agent, StartupError> {
        let (row, key) = store::create_with_key(
            &self.state.db,
            &Actor::User(self.lena.id.clone()),
            NewAgent {
                name,
                purpose,
                sponsor: &self.lena.username,
                stage,
            },
        )
        .await?;
        Ok(Agent {
            principal: Principal {
                agent_id: row.id,
                name: row.name,
            },
            key_hash: app::auth::keys::hash(&key.secret),
        })
    }

    /// Grants a capability (optionally with limits) as lena would.
    async fn grant(
        &self,
        agent: &Agent,
        capability: &str,
        bounds: &str,
        targets: &str,
    ) -> Result<(), StartupError> {
        let form = app::scope::GrantForm {
            capability: capability.into(),
            bounds: bounds.into(),
            targets: targets.into(),
            ..Default::default()
        };
        let reason = format!(
            "{} needs {capability} for its purpose",
            agent.principal.name
        );
        let saved = app::scope::store::save(
            &self.state.db,
            &self.lena,
            &agent.principal.agent_id,
            &form,
            &reason,
        )
        .await?;
        // A new grant widens scope: the admin, a second lead, approves it.
        if let Some(p) = saved.proposed() {
            let ballot = app::governance::decide::Ballot::Approve {
                reason: "within the agent's purpose".into(),
                override_reason: None,
            };
            app::governance::decide::vote(&self.state, &self.admin, &p.change_id, ballot).await?;
        }
        Ok(())
    }

    /// Marks a capability as used before, past the first-use checkpoint.
    async fn used(&self, agent: &Agent, capability: &str) -> Result<(), StartupError> {
        let mut tx = self.state.db.begin().await?;
        app::policy::facts::record_use(&mut tx, &agent.principal.agent_id, capability, now_ms())
            .await?;
        tx.commit().await?;
        Ok(())
    }

    /// Submits as the agent, through the writer that decides everything.
    async fn submit(&self, agent: &Agent, body: Value) -> Result<String, StartupError> {
        let req: SubmitRequest =
            serde_json::from_value(body).map_err(|e| format!("demo submission: {e}"))?;
        let submission = Submission::parse(req)?;
        let Submitted { action, .. } = self
            .writer
            .submit(agent.key_hash.clone(), submission, None)
            .await?;
        Ok(action.id)
    }

    async fn approve(
        &self,
        who: &UserView,
        id: &str,
        edited: Option<Value>,
    ) -> Result<(), StartupError> {
        self.decide(who, id, Verdict::Approve { edited }).await
    }

    async fn reject(&self, who: &UserView, id: &str, reason: &str) -> Result<(), StartupError> {
        let reason = reason.into();
        self.decide(who, id, Verdict::Reject { reason }).await
    }

    /// Decides as a reviewer would: on what the request page shows.
    async fn decide(&self, who: &UserView, id: &str, verdict: Verdict) -> Result<(), StartupError> {
        let seen = service::get_for_reviewer(&self.state, id)
            .await?
            .payload_hash;
        review::decide_request(&self.state, who, id, &seen, verdict).await?;
        Ok(())
    }

    async fn claim_and_report(
        &self,
        agent: &Agent,
        id: &str,
        ok: bool,
        details: &str,
    ) -> Result<(), StartupError> {
        claim::claim(&self.state, &agent.principal, id).await?;
        self.report(agent, id, ok, details).await
    }

    async fn report(
        &self,
        agent: &Agent,
        id: &str,
        ok: bool,
        details: &str,
    ) -> Result<(), StartupError> {
        let report = execute::Report {
            succeeded: ok,
            details: Some(details.into()),
            incident: false,
            evidence: vec![],
        };
        execute::outcome(&self.state, &agent.principal, id, report).await?;
        Ok(())
    }

    /// Lets a pending request run out its time, as an unanswered one would.
    async fn let_expire(&self, id: &str) -> Result<(), StartupError> {
        sqlx::query("UPDATE action_requests SET expires_at = $1 WHERE id = $2")
            .bind(now_ms() - 1)
            .bind(id)
            .execute(&self.state.db)
            .await?;
        service::expire_due(&self.state).await?;
        Ok(())
    }
}
