//! Policy versions in the database, and simulation.

use super::{PolicyView, RuleRow, Simulation, VersionRow};
use crate::audit::{self, Actor};
use crate::auth::UserView;
use crate::change;
use crate::change::model::{Kind, Saved};
use crate::change::store::Gate;
use crate::change::store::Stored;
use crate::clock::display;
use crate::db::{known_id, now_ms, Db, Tx};
use crate::error::{stored, AppError};
use crate::policy::facts::decide_now;
use crate::policy::ruleset::{duration, parse_duration};
use crate::policy::store::bump_epoch;
use crate::policy::{rules_rises, Request, Rule, RuleKey, Rules};
use crate::state::AppState;
use sqlx::Row;
use std::collections::HashMap;

pub async fn current(db: &Db) -> Result<PolicyView, AppError> {
    let rows = sqlx::query(
        "SELECT p.version, p.rules, p.note, p.created_at, u.username FROM policy_versions p \
         LEFT JOIN users u ON u.id = p.created_by ORDER BY p.version DESC LIMIT 50",
    )
    .fetch_all(db)
    .await?;
    let latest = rows.first().ok_or_else(|| {
        AppError::validation("no policy version is stored; restart Belay to write the defaults")
    })?;
    let version: i64 = latest.try_get("version")?;
    let rules = Rules::from_json(&latest.try_get::<String, _>("rules")?).map_err(|why| {
        AppError::Validation(format!(
            "policy v{version} cannot be read ({why}); actions are held for approval until a lead saves valid rules"
        ))
    })?;
    let history = rows
        .iter()
        .map(|r| {
            Ok(VersionRow {
                version: r.try_get("version")?,
                note: r.try_get("note")?,
                by: r.try_get("username")?,
                at: display(r.try_get("created_at")?),
            })
        })
        .collect::<Result<_, AppError>>()?;
    Ok(PolicyView {
        version,
        rules: rules
            .iter()
            .map(|(key, rule)| RuleRow {
                key,
                about: key.plural().to_string(),
                approvals: rule.approvals,
                wait: duration(rule.ttl_secs),
                always_approve: rule.always_approve,
                sponsor_may_approve: rule.sponsor_may_approve,
                claim: duration(rule.claim_secs),
                name: rules.name(key),
            })
            .collect(),
        history,
        can_edit: false,
    })
}

/// Reads the form: every key needs its approvals and wait; a missing field
/// is an error, never a silent default.
pub fn parse_fields(fields: &HashMap<String, String>) -> Result<Rules, AppError> {
    let mut rules = Rules::defaults();
    for key in RuleKey::ALL {
        let k = key.as_str();
        let field = |name: &str| {
            fields
                .get(&format!("{name}-{k}"))
                .map(|v| v.trim().to_string())
                .ok_or_else(|| AppError::validation(format!("{k}: the form is missing {name}")))
        };
        let approvals = field("approvals")?
            .parse::<u8>()
            .map_err(|_| AppError::validation(format!("{k}: approvals must be 1, 2 or 3")))?;
        let ttl_secs = parse_duration(&field("wait")?)
            .map_err(|e| AppError::Validation(format!("{k}: {e}")))?;
        let claim_secs = parse_duration(&field("claim")?)
            .map_err(|e| AppError::Validation(format!("{k}: {e}")))?;
        let always_approve = fields.contains_key(&format!("always-{k}"));
        let sponsor_may_approve = fields.contains_key(&format!("sponsor-{k}"));
        rules
            .set(
                key,
                Rule {
                    approvals,
                    ttl_secs,
                    always_approve,
                    sponsor_may_approve,
                    claim_secs,
                },
            )
            .map_err(AppError::Validation)?;
    }
    Ok(rules)
}

/// Stores `rules` as version `base_version + 1`. Two leads saving at once
/// both aim at the same number; the second gets 409. Rules that hold less
/// than the current ones wait for another lead as a change request.
#[tracing::instrument(skip(db, user, rules), fields(user = %user.username))]
pub async fn save(
    db: &Db,
    user: &UserView,
    base_version: i64,
    note: &str,
    rules: &Rules,
) -> Result<Saved<i64>, AppError> {
    let note = match note.trim() {
        "" => "edited in the browser".to_string(),
        n => crate::text::field("the note", n, 500)?,
    };
    let mut tx = db.begin().await?;
    // First, so this edit and the decision writer serialize on the epoch.
    bump_epoch(&mut tx).await?;
    let before = at_version(&mut tx, base_version).await?;
    let rises = match Rules::from_json(&before) {
        Ok(old) => rules_rises(&old, rules),
        // Unreadable rules hold everything (the decision fails closed).
        Err(_) => vec!["replaces rules that could not be read".to_string()],
    };
    let after = json_value(&rules.to_json());
    let how = match change::store::gate(
        &mut tx,
        user,
        change::store::Open {
            kind: Kind::Policy,
            agent_id: None,
            subject: "policy",
            before: Some(
                serde_json::json!({ "version": base_version, "rules": json_value(&before) }),
            ),
            after: serde_json::json!({ "rules": after }),
            rises,
            reason: if note == "edited in the browser" {
                ""
            } else {
                &note
            },
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
    let version = write(&mut tx, user, base_version, &note, &before, rules, how).await?;
    tx.commit().await?;
    Ok(Saved::Applied(version))
}

/// Applies an approved change request, if no version was saved since it
/// was proposed.
pub async fn apply_change(
    tx: &mut Tx<'_>,
    c: &Stored,
    approver: &UserView,
) -> Result<(), AppError> {
    let base: i64 = stored(serde_json::from_value(
        c.before.as_ref().ok_or(AppError::Internal)?["version"].clone(),
    ))?;
    let before = at_version(tx, base)
        .await
        .map_err(|_| c.moved("the policy"))?;
    let rules = stored(Rules::from_json(&c.after["rules"].to_string()))?;
    let note: String = c.reason.chars().take(500).collect();
    let how = serde_json::json!({ "change_id": c.id, "rises": c.rises });
    write(tx, approver, base, &note, &before, &rules, how)
        .await
        .map(|_| ())
}

fn json_value(s: &str) -> serde_json::Value {
    serde_json::from_str(s).unwrap_or(serde_json::Value::Null)
}

/// The stored rules of `base_version`, if it is still the latest; 409 if not.
async fn at_version(tx: &mut Tx<'_>, base_version: i64) -> Result<String, AppError> {
    let latest: Option<i64> = sqlx::query("SELECT MAX(version) AS v FROM policy_versions")
        .fetch_one(&mut **tx)
        .await?
        .try_get("v")?;
    let before = sqlx::query("SELECT rules FROM policy_versions WHERE version = $1")
        .bind(base_version)
        .fetch_optional(&mut **tx)
        .await?
        .map(|r| r.try_get::<String, _>("rules"))
        .transpose()?;
    match before {
        Some(rules) if latest == Some(base_version) => Ok(rules),
        _ => Err(AppError::Conflict(format!(
            "the policy changed while you were editing (now v{}); reload to see the current rules",
            latest.unwrap_or(0)
        ))),
    }
}

async fn write(
    tx: &mut Tx<'_>,
    user: &UserView,
    base_version: i64,
    note: &str,
    before: &str,
    rules: &Rules,
    how: serde_json::Value,
) -> Result<i64, AppError> {
    let version = base_version + 1;
    let inserted = sqlx::query(
        "INSERT INTO policy_versions (version, rules, note, created_by, created_at) VALUES ($1, $2, $3, $4, $5)",
    )
    .bind(version)
    .bind(rules.to_json())
    .bind(note)
    .bind(&user.id)
    .bind(now_ms())
    .execute(&mut **tx)
    .await;
    crate::db::first_of_its_kind(inserted, || {
        AppError::Conflict(format!(
            "someone saved v{version} at the same moment; reload to see the current rules"
        ))
    })?;
    audit::record(
        tx,
        audit::Event {
            actor: &Actor::User(user.id.clone()),
            what: "policy.changed",
            subject_kind: "policy",
            subject_id: &version.to_string(),
            detail: serde_json::json!({
                "note": note,
                "before": json_value(before),
                "after": json_value(&rules.to_json()),
                "policy_version": version,
                "how": how,
            }),
        },
    )
    .await?;
    Ok(version)
}

pub async fn choices(db: &Db) -> Result<(Vec<(String, String)>, Vec<String>), AppError> {
    let agents = sqlx::query("SELECT id, name FROM agents ORDER BY name")
        .fetch_all(db)
        .await?
        .iter()
        .map(|r| Ok((r.try_get("id")?, r.try_get("name")?)))
        .collect::<Result<_, AppError>>()?;
    let capabilities = sqlx::query("SELECT name FROM capabilities ORDER BY name")
        .fetch_all(db)
        .await?
        .iter()
        .map(|r| r.try_get("name"))
        .collect::<Result<_, _>>()?;
    Ok((agents, capabilities))
}

/// Runs the real decision, with the real facts, and records nothing.
pub async fn simulate(
    state: &AppState,
    agent_id: &str,
    capability: &str,
    target: &str,
    params: &str,
) -> Result<Simulation, AppError> {
    known_id(agent_id, "agent")?;
    let capability = crate::actions::submission::parse_capability(capability)?;
    let params: serde_json::Value = match params.trim() {
        "" => serde_json::json!({}),
        p => serde_json::from_str(p)
            .map_err(|e| AppError::validation(format!("params must be a JSON object: {e}")))?,
    };
    if !params.is_object() {
        return Err(AppError::validation("params must be a JSON object"));
    }
    let mut conn = state.db.acquire().await?;
    let index = state.policy.current(&mut conn).await?;
    let agent_name: String = sqlx::query("SELECT name FROM agents WHERE id = $1")
        .bind(agent_id)
        .fetch_optional(&mut *conn)
        .await?
        .ok_or_else(|| AppError::NotFound("no such agent".into()))?
        .try_get("name")?;
    let req = Request {
        capability: &capability,
        target: target.trim(),
        params: &params,
    };
    let d = decide_now(&mut *conn, &state.policy, &index, agent_id, &req, 0).await;
    Ok(Simulation {
        agent_name,
        capability,
        outcome: d.outcome,
        reasons: d.reasons,
        policy_version: d.policy_version,
        stage: d.stage,
        approvals_required: d.approvals_required,
        wait: d.ttl_secs.map(duration),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn full_form() -> HashMap<String, String> {
        let mut f = HashMap::new();
        for key in RuleKey::ALL {
            f.insert(format!("approvals-{key}"), "1".into());
            f.insert(format!("wait-{key}"), "24h".into());
            f.insert(format!("claim-{key}"), "1h".into());
        }
        f
    }

    #[test]
    fn a_full_form_parses_and_checkboxes_set_always_approve() {
        let mut f = full_form();
        f.insert("approvals-external_send".into(), "2".into());
        f.insert("always-destructive".into(), "on".into());
        let rules = parse_fields(&f).unwrap();
        assert_eq!(rules.get(RuleKey::ExternalSend).approvals, 2);
        assert!(rules.get(RuleKey::Destructive).always_approve);
        assert!(!rules.get(RuleKey::Purchase).always_approve);
        // Sponsors are barred unless the box is ticked; the window is read.
        assert!(!rules.get(RuleKey::Purchase).sponsor_may_approve);
        assert_eq!(rules.get(RuleKey::Purchase).claim_secs, 3600);
        f.insert("sponsor-purchase".into(), "on".into());
        f.insert("claim-purchase".into(), "15m".into());
        let rules = parse_fields(&f).unwrap();
        assert!(rules.get(RuleKey::Purchase).sponsor_may_approve);
        assert_eq!(rules.get(RuleKey::Purchase).claim_secs, 900);
    }

    #[test]
    fn incomplete_or_invalid_forms_are_refused() {
        for (edit, expect) in [
            (("approvals-purchase", None), "missing approvals"),
            (
                ("approvals-purchase", Some("4")),
                "approvals must be 1 to 3",
            ),
            (
                ("approvals-purchase", Some("two")),
                "approvals must be 1, 2 or 3",
            ),
            (("wait-first_use", Some("forever")), "not a duration"),
            (("always-first_use", Some("on")), "only risk triggers"),
            (("claim-purchase", None), "missing claim"),
            (
                ("claim-purchase", Some("10s")),
                "between 1 minute and 30 days",
            ),
        ] {
            let mut f = full_form();
            match edit.1 {
                Some(v) => f.insert(edit.0.to_string(), v.to_string()),
                None => f.remove(edit.0),
            };
            let err = parse_fields(&f).unwrap_err().to_string();
            assert!(err.contains(expect), "{edit:?}: {err}");
        }
    }
}
