//! Agents and their keys in the database.

use super::{AgentDetail, AgentRow, IssuedKey, KeyRow, RecentRequest};
use crate::audit::{self, Actor};
use crate::auth::keys;
use crate::auth::users;
use crate::clock::display as display_time;
use crate::db::{known_id, new_id, now_ms, Db, Tx};
use crate::error::{stored, AppError};
use crate::policy::Stage;
use sqlx::Row;

/// An agent name: a handle, like usernames.
pub fn parse_name(raw: &str) -> Result<String, AppError> {
    crate::auth::users::parse_handle(raw, "agent names")
}

/// A purpose: the bounded task the agent exists for, 1–500 characters.
pub fn parse_purpose(raw: &str) -> Result<String, AppError> {
    crate::text::field("the purpose", raw, 500)
}

pub struct NewAgent<'a> {
    pub name: &'a str,
    pub purpose: &'a str,
    pub sponsor: &'a str,
    pub stage: Stage,
}

/// Registers an agent and its first key in one transaction: either both
/// exist afterwards or neither does.
#[tracing::instrument(skip(db, new), fields(agent = %new.name))]
pub async fn create_with_key(
    db: &Db,
    actor: &Actor,
    new: NewAgent<'_>,
) -> Result<(AgentRow, IssuedKey), AppError> {
    let mut tx = db.begin().await?;
    // Agents and keys are part of what the decision reads.
    crate::policy::store::bump_epoch(&mut tx).await?;
    // The operator's break-glass: any stage, said so in the audit trail.
    let how = serde_json::json!({ "break_glass": matches!(actor, Actor::Operator(_)) });
    let mut agent = insert_agent(db, &mut tx, actor, new, how).await?;
    let key = insert_key(&mut tx, actor, &agent.id, None).await?;
    tx.commit().await?;
    agent.active_keys = 1;
    Ok((agent, key))
}

pub(super) async fn insert_agent(
    db: &Db,
    tx: &mut Tx<'_>,
    actor: &Actor,
    new: NewAgent<'_>,
    how: serde_json::Value,
) -> Result<AgentRow, AppError> {
    let name = parse_name(new.name)?;
    let purpose = parse_purpose(new.purpose)?;
    let sponsor = users::find_by_username(db, new.sponsor.trim())
        .await?
        .ok_or_else(|| AppError::validation(format!("unknown sponsor {:?}", new.sponsor.trim())))?;
    let id = new_id();
    let now = now_ms();
    let inserted = sqlx::query(
        "INSERT INTO agents (id, name, purpose, sponsor_id, status, stage, created_at) \
         VALUES ($1, $2, $3, $4, 'active', $5, $6)",
    )
    .bind(&id)
    .bind(&name)
    .bind(&purpose)
    .bind(&sponsor.id)
    .bind(new.stage.as_str())
    .bind(now)
    .execute(&mut **tx)
    .await;
    crate::db::first_of_its_kind(inserted, || {
        AppError::Conflict(format!("an agent named {name:?} already exists"))
    })?;
    crate::trust::history::record(
        tx,
        crate::trust::history::Change {
            agent_id: &id,
            capability: None,
            kind: "registered",
            from: None,
            to: new.stage,
            reason: "registered",
            actor_id: actor.user_id(),
            review_id: None,
            at: now,
        },
    )
    .await?;
    audit::record(
        tx,
        audit::Event {
            actor,
            what: "agent.created",
            subject_kind: "agent",
            subject_id: &id,
            detail: serde_json::json!({ "after": {
                "name": name, "purpose": purpose, "sponsor": sponsor.username, "stage": new.stage,
            }, "how": how }),
        },
    )
    .await?;
    Ok(AgentRow {
        id,
        name,
        purpose,
        sponsor: sponsor.username,
        status: "active".into(),
        stage: new.stage,
        created_at: display_time(now),
        active_keys: 0,
    })
}

const AGENT_COLUMNS: &str =
    "a.id, a.name, a.purpose, u.username AS sponsor, a.status, a.stage, a.created_at, \
     (SELECT COUNT(*) FROM agent_keys k WHERE k.agent_id = a.id AND k.revoked_at IS NULL \
        AND (k.expires_at IS NULL OR k.expires_at > $1)) AS active_keys";

/// The id of the agent with this name; 404 if there is none.
pub async fn id_of(db: &Db, name: &str) -> Result<String, AppError> {
    sqlx::query("SELECT id FROM agents WHERE name = $1")
        .bind(name)
        .fetch_optional(db)
        .await?
        .map(|r| r.try_get("id"))
        .transpose()?
        .ok_or_else(|| AppError::NotFound(format!("no agent is named {name:?}")))
}

pub async fn list(db: &Db) -> Result<Vec<AgentRow>, AppError> {
    let rows = sqlx::query(&format!(
        "SELECT {AGENT_COLUMNS} FROM agents a JOIN users u ON u.id = a.sponsor_id ORDER BY a.name"
    ))
    .bind(now_ms())
    .fetch_all(db)
    .await?;
    rows.iter().map(agent_from_row).collect()
}

pub async fn get(db: &Db, id: &str) -> Result<AgentDetail, AppError> {
    known_id(id, "agent")?;
    let row = sqlx::query(&format!(
        "SELECT {AGENT_COLUMNS} FROM agents a JOIN users u ON u.id = a.sponsor_id WHERE a.id = $2"
    ))
    .bind(now_ms())
    .bind(id)
    .fetch_optional(db)
    .await?
    .ok_or_else(|| AppError::NotFound("no such agent".into()))?;
    let agent = agent_from_row(&row)?;
    let now = now_ms();
    let keys = sqlx::query(
        "SELECT id, prefix, created_at, expires_at, revoked_at FROM agent_keys \
         WHERE agent_id = $1 ORDER BY created_at DESC",
    )
    .bind(id)
    .fetch_all(db)
    .await?
    .iter()
    .map(|r| {
        let expires_at: Option<i64> = r.try_get("expires_at")?;
        let revoked_at: Option<i64> = r.try_get("revoked_at")?;
        let status = match (revoked_at, expires_at) {
            (Some(_), _) => "revoked",
            (None, Some(e)) if e <= now => "expired",
            _ => "active",
        };
        Ok(KeyRow {
            id: r.try_get("id")?,
            prefix: r.try_get("prefix")?,
            created_at: display_time(r.try_get("created_at")?),
            expires_at: expires_at.map(display_time),
            revoked_at: revoked_at.map(display_time),
            status: status.into(),
        })
    })
    .collect::<Result<Vec<_>, AppError>>()?;
    let capabilities = sqlx::query("SELECT name FROM capabilities ORDER BY name")
        .fetch_all(db)
        .await?
        .iter()
        .map(|r| r.try_get("name"))
        .collect::<Result<Vec<String>, _>>()?;
    let recent = sqlx::query(
        "SELECT id, capability, summary, state, created_at FROM action_requests \
         WHERE agent_id = $1 ORDER BY created_at DESC, id DESC LIMIT 50",
    )
    .bind(id)
    .fetch_all(db)
    .await?
    .iter()
    .map(|r| {
        Ok(RecentRequest {
            id: r.try_get("id")?,
            capability: r.try_get("capability")?,
            summary: r.try_get("summary")?,
            state: stored(crate::actions::RequestState::parse(
                &r.try_get::<String, _>("state")?,
            ))?,
            created_at: display_time(r.try_get("created_at")?),
        })
    })
    .collect::<Result<Vec<_>, AppError>>()?;
    Ok(AgentDetail {
        agent,
        keys,
        capabilities,
        recent,
        can_manage: false,
    })
}

fn agent_from_row(r: &sqlx::any::AnyRow) -> Result<AgentRow, AppError> {
    let stage: String = r.try_get("stage")?;
    Ok(AgentRow {
        id: r.try_get("id")?,
        name: r.try_get("name")?,
        purpose: r.try_get("purpose")?,
        sponsor: r.try_get("sponsor")?,
        status: r.try_get("status")?,
        stage: stored(Stage::parse(&stage))?,
        created_at: display_time(r.try_get("created_at")?),
        active_keys: r.try_get("active_keys")?,
    })
}

/// Issues a new key for an agent; the secret is returned once.
#[tracing::instrument(skip(db), fields(agent_id = %agent_id))]
pub async fn issue_key(
    db: &Db,
    actor: &Actor,
    agent_id: &str,
    expires_at: Option<i64>,
) -> Result<IssuedKey, AppError> {
    if let Some(at) = expires_at {
        if at <= now_ms() {
            return Err(AppError::validation("a key's expiry must be in the future"));
        }
    }
    known_id(agent_id, "agent")?;
    let mut tx = db.begin().await?;
    // Agents and keys are part of what the decision reads.
    crate::policy::store::bump_epoch(&mut tx).await?;
    let key = insert_key(&mut tx, actor, agent_id, expires_at).await?;
    tx.commit().await?;
    Ok(key)
}

async fn insert_key(
    tx: &mut Tx<'_>,
    actor: &Actor,
    agent_id: &str,
    expires_at: Option<i64>,
) -> Result<IssuedKey, AppError> {
    let key = keys::generate();
    let id = new_id();
    let inserted = sqlx::query(
        "INSERT INTO agent_keys (id, agent_id, prefix, key_hash, created_at, expires_at) \
         SELECT $1, id, $2, $3, $4, $5 FROM agents WHERE id = $6",
    )
    .bind(&id)
    .bind(&key.prefix)
    .bind(&key.hash)
    .bind(now_ms())
    .bind(expires_at)
    .bind(agent_id)
    .execute(&mut **tx)
    .await?;
    if inserted.rows_affected() != 1 {
        return Err(AppError::NotFound("no such agent".into()));
    }
    audit::record(
        tx,
        audit::Event {
            actor,
            what: "agent_key.issued",
            subject_kind: "agent",
            subject_id: agent_id,
            detail: serde_json::json!({ "after": { "key_id": id, "prefix": key.prefix, "expires_at": expires_at } }),
        },
    )
    .await?;
    Ok(IssuedKey {
        key_id: id,
        prefix: key.prefix,
        secret: key.secret,
    })
}

#[tracing::instrument(skip(db), fields(key_id = %key_id))]
pub async fn revoke_key(db: &Db, actor: &Actor, key_id: &str) -> Result<(), AppError> {
    known_id(key_id, "key")?;
    let mut tx = db.begin().await?;
    // Agents and keys are part of what the decision reads.
    crate::policy::store::bump_epoch(&mut tx).await?;
    // Conditional update: revoking twice is a conflict, not a second revocation.
    let done =
        sqlx::query("UPDATE agent_keys SET revoked_at = $1 WHERE id = $2 AND revoked_at IS NULL")
            .bind(now_ms())
            .bind(key_id)
            .execute(&mut *tx)
            .await?;
    if done.rows_affected() != 1 {
        let exists = sqlx::query("SELECT 1 AS one FROM agent_keys WHERE id = $1")
            .bind(key_id)
            .fetch_optional(&mut *tx)
            .await?
            .is_some();
        return Err(if exists {
            AppError::Conflict("that key is already revoked".into())
        } else {
            AppError::NotFound("no such key".into())
        });
    }
    let agent_id: String = sqlx::query("SELECT agent_id FROM agent_keys WHERE id = $1")
        .bind(key_id)
        .fetch_one(&mut *tx)
        .await?
        .try_get("agent_id")?;
    audit::record(
        &mut tx,
        audit::Event {
            actor,
            what: "agent_key.revoked",
            subject_kind: "agent",
            subject_id: &agent_id,
            detail: serde_json::json!({ "after": { "key_id": key_id, "revoked": true } }),
        },
    )
    .await?;
    tx.commit().await?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_and_purposes_are_parsed_at_the_edge() {
        assert_eq!(parse_name(" invoice-bot ").unwrap(), "invoice-bot");
        assert!(parse_name("x").is_err());
        assert!(parse_name("two words").is_err());
        assert!(parse_purpose("   ").is_err());
        assert!(parse_purpose(&"p".repeat(501)).is_err());
        assert_eq!(
            parse_purpose(" Reconcile invoices ").unwrap(),
            "Reconcile invoices"
        );
    }
}
