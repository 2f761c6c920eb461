//! Catalog entries in the database. A change bumps the policy epoch in the
//! same transaction, so the next decision everywhere sees it.

use super::CapabilityRow;
use crate::actions::submission::parse_capability;
use crate::audit::{self, Actor};
use crate::auth::UserView;
use crate::change;
use crate::change::model::{Kind, Saved};
use crate::change::store::Gate;
use crate::change::store::Stored;
use crate::db::{Db, Tx};
use crate::error::{stored, AppError};
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
    let mut v = serde_json::json!({
        "description": c.description,
        "triggers": c.triggers,
        "reversible": c.reversible,
    });
    // An unreadable entry never compares equal to a readable one.
    if let Some(why) = &c.unreadable {
        v["unreadable"] = why.clone().into();
    }
    v
}

/// How the entry after an edit holds less than before: a trigger removed,
/// or a new capability with none (so nothing about it ever holds).
fn rises(before: Option<&CapabilityRow>, after: &CapabilityRow) -> Vec<String> {
    match before {
        None if after.triggers.is_empty() => {
            vec![format!("adds {} without risk triggers", after.name)]
        }
        None => vec![],
        // An unreadable entry is treated as high risk: any readable one is less.
        Some(b) if b.unreadable.is_some() => {
            vec!["replaces an unreadable entry (treated as high risk)".into()]
        }
        Some(b) => b
            .triggers
            .iter()
            .filter(|t| !after.triggers.contains(t))
            .map(|t| format!("removes the {} trigger", t.as_str()))
            .collect(),
    }
}

/// Adds a capability or changes one. An edit that holds less waits for
/// another lead as a change request.
#[tracing::instrument(skip(db, user, new, reason), fields(user = %user.username, capability = %new.name))]
pub async fn save(
    db: &Db,
    user: &UserView,
    new: NewCapability<'_>,
    reason: &str,
) -> Result<Saved<CapabilityRow>, AppError> {
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
    let before = current(&mut tx, &name).await?;
    let rises = rises(before.as_ref(), &after);
    let how = match change::store::gate(
        &mut tx,
        user,
        change::store::Open {
            kind: Kind::Capability,
            agent_id: None,
            subject: &name,
            before: before.as_ref().map(json),
            after: json(&after),
            rises,
            reason,
            detail: None,
            needed: 1,
        },
    )
    .await?
    {
        Gate::Proposed(p) => {
            tx.commit().await?;
            return Ok(Saved::Proposed(p));
        }
        Gate::Apply(how) => how,
    };
    write(&mut tx, &Actor::User(user.id.clone()), &after, before, how).await?;
    tx.commit().await?;
    Ok(Saved::Applied(after))
}

/// Applies an approved change request, if the entry is still exactly what
/// it was proposed against.
pub async fn apply_change(
    tx: &mut Tx<'_>,
    c: &Stored,
    approver: &UserView,
) -> Result<(), AppError> {
    let before = current(tx, &c.subject).await?;
    c.still(
        before.as_ref().map(json).as_ref(),
        &format!("the catalog entry {}", c.subject),
    )?;
    let after = CapabilityRow {
        name: c.subject.clone(),
        description: stored(serde_json::from_value(c.after["description"].clone()))?,
        triggers: stored(serde_json::from_value(c.after["triggers"].clone()))?,
        reversible: stored(serde_json::from_value(c.after["reversible"].clone()))?,
        unreadable: None,
    };
    let how = serde_json::json!({ "change_id": c.id, "rises": c.rises });
    write(tx, &Actor::User(approver.id.clone()), &after, before, how).await
}

/// Adds a capability the catalog does not have yet, as the operator (the
/// CLI's break-glass: a new entry without risk triggers would otherwise
/// wait for a second lead, and the audit event says it did not). An entry
/// that exists is left exactly as leads keep it. Call inside a transaction
/// that bumped the policy epoch first. Answers whether it was added.
pub async fn add_by_operator(
    tx: &mut Tx<'_>,
    operator: &Actor,
    new: NewCapability<'_>,
) -> Result<bool, AppError> {
    if !matches!(operator, Actor::Operator(_)) {
        return Err(AppError::Forbidden(
            "only the operator adds catalog entries without the two-person rule".into(),
        ));
    }
    let name = parse_capability(new.name)?;
    if current(tx, &name).await?.is_some() {
        return Ok(false);
    }
    let after = CapabilityRow {
        name,
        description: crate::text::field("the description", new.description, 500)?,
        triggers: new.triggers,
        reversible: new.reversible,
        unreadable: None,
    };
    let rises = rises(None, &after);
    let how = serde_json::json!({ "break_glass": !rises.is_empty(), "rises": rises });
    write(tx, operator, &after, None, how).await?;
    Ok(true)
}

/// Adds a capability the catalog does not have yet, as a lead registering
/// an MCP upstream: under the two-person rule like any new entry (one
/// without risk triggers waits for a second lead as a change request, and
/// is not proposed twice). An entry that exists is left as leads keep it.
/// Call inside a transaction that bumped the policy epoch first. None: the
/// entry was there, or a proposal for it is open already.
pub async fn add_by_lead(
    tx: &mut Tx<'_>,
    user: &UserView,
    new: NewCapability<'_>,
    reason: &str,
) -> Result<Option<Saved<CapabilityRow>>, AppError> {
    let name = parse_capability(new.name)?;
    if current(tx, &name).await?.is_some() {
        return Ok(None);
    }
    let proposed = sqlx::query(
        "SELECT id FROM change_requests WHERE kind = $1 AND subject = $2 AND state = 'open'",
    )
    .bind(Kind::Capability.as_str())
    .bind(&name)
    .fetch_optional(&mut **tx)
    .await?;
    if proposed.is_some() {
        return Ok(None);
    }
    let after = CapabilityRow {
        name: name.clone(),
        description: crate::text::field("the description", new.description, 500)?,
        triggers: new.triggers,
        reversible: new.reversible,
        unreadable: None,
    };
    let open = change::store::Open {
        kind: Kind::Capability,
        agent_id: None,
        subject: &name,
        before: None,
        after: json(&after),
        rises: rises(None, &after),
        reason,
        detail: None,
        needed: 1,
    };
    match change::store::gate(tx, user, open).await? {
        Gate::Proposed(p) => Ok(Some(Saved::Proposed(p))),
        Gate::Apply(how) => {
            write(tx, &Actor::User(user.id.clone()), &after, None, how).await?;
            Ok(Some(Saved::Applied(after)))
        }
    }
}

async fn current(tx: &mut Tx<'_>, name: &str) -> Result<Option<CapabilityRow>, AppError> {
    sqlx::query("SELECT name, description, triggers, reversible FROM capabilities WHERE name = $1")
        .bind(name)
        .fetch_optional(&mut **tx)
        .await?
        .map(|r| row(&r))
        .transpose()
}

async fn write(
    tx: &mut Tx<'_>,
    actor: &Actor,
    after: &CapabilityRow,
    before: Option<CapabilityRow>,
    how: serde_json::Value,
) -> Result<(), AppError> {
    sqlx::query(
        "INSERT INTO capabilities (name, description, triggers, reversible) VALUES ($1, $2, $3, $4) \
         ON CONFLICT (name) DO UPDATE SET description = excluded.description, triggers = excluded.triggers, \
           reversible = excluded.reversible",
    )
    .bind(&after.name)
    .bind(&after.description)
    .bind(Trigger::join(&after.triggers))
    .bind(i64::from(after.reversible))
    .execute(&mut **tx)
    .await?;
    audit::record(
        tx,
        audit::Event {
            actor,
            what: if before.is_some() {
                "capability.changed"
            } else {
                "capability.added"
            },
            subject_kind: "capability",
            subject_id: &after.name,
            detail: serde_json::json!({
                "before": before.as_ref().map(json),
                "after": json(after),
                "how": how,
            }),
        },
    )
    .await
}
