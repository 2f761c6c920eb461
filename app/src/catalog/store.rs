//! Catalog entries in the database. A change bumps the policy epoch in the
//! same transaction, so the next decision everywhere sees it.

use super::CapabilityRow;
use crate::actions::submission::parse_capability;
use crate::audit::{self, Actor};
use crate::auth::UserView;
use crate::db::Db;
use crate::error::AppError;
use crate::policy::store::bump_epoch;
use crate::policy::Trigger;
use sqlx::Row;

pub async fn list(db: &Db) -> Result<Vec<CapabilityRow>, AppError> {
    sqlx::query("SELECT name, description, triggers, reversible FROM capabilities ORDER BY name")
        .fetch_all(db)
        .await?
        .iter()
        .map(row)
        .collect()
}

fn row(r: &sqlx::any::AnyRow) -> Result<CapabilityRow, AppError> {
    let (triggers, unreadable) = match Trigger::parse_list(&r.try_get::<String, _>("triggers")?) {
        Ok(t) => (t, None),
        Err(why) => (vec![], Some(why)),
    };
    Ok(CapabilityRow {
        name: r.try_get("name")?,
        description: r.try_get("description")?,
        triggers,
        reversible: r.try_get::<i64, _>("reversible")? == 1,
        unreadable,
    })
}

pub struct NewCapability<'a> {
    pub name: &'a str,
    pub description: &'a str,
    pub triggers: Vec<Trigger>,
    pub reversible: bool,
}

fn json(c: &CapabilityRow) -> serde_json::Value {
    serde_json::json!({
        "description": c.description,
        "triggers": c.triggers,
        "reversible": c.reversible,
    })
}

#[tracing::instrument(skip(db, user, new), fields(user = %user.username, capability = %new.name))]
pub async fn save(
    db: &Db,
    user: &UserView,
    new: NewCapability<'_>,
) -> Result<CapabilityRow, AppError> {
    let name = parse_capability(new.name)?;
    let description = crate::text::field("the description", new.description, 500)?;
    let after = CapabilityRow {
        name: name.clone(),
        description,
        triggers: new.triggers,
        reversible: new.reversible,
        unreadable: None,
    };
    let mut tx = db.begin().await?;
    // First, so this edit and the decision writer serialize on the epoch.
    bump_epoch(&mut tx).await?;
    let before = sqlx::query(
        "SELECT name, description, triggers, reversible FROM capabilities WHERE name = $1",
    )
    .bind(&name)
    .fetch_optional(&mut *tx)
    .await?
    .map(|r| row(&r))
    .transpose()?;
    sqlx::query(
        "INSERT INTO capabilities (name, description, triggers, reversible) VALUES ($1, $2, $3, $4) \
         ON CONFLICT (name) DO UPDATE SET description = excluded.description, triggers = excluded.triggers, \
           reversible = excluded.reversible",
    )
    .bind(&name)
    .bind(&after.description)
    .bind(Trigger::join(&after.triggers))
    .bind(i64::from(after.reversible))
    .execute(&mut *tx)
    .await?;
    audit::record(
        &mut tx,
        audit::Event {
            actor: &Actor::User(user.id.clone()),
            what: if before.is_some() {
                "capability.changed"
            } else {
                "capability.added"
            },
            subject_kind: "capability",
            subject_id: &name,
            detail: serde_json::json!({
                "before": before.as_ref().map(json),
                "after": json(&after),
            }),
        },
    )
    .await?;
    tx.commit().await?;
    Ok(after)
}
