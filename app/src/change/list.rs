//! Change requests as the pages list and show them.

use super::model::{ChangeDetail, ChangeRow, Diff, Kind};
use super::store::{self, barred};
use crate::auth::UserView;
use crate::db::{known_id, Db};
use crate::error::{stored, AppError};
use serde_json::Value;
use sqlx::Row;

const ROW_SQL: &str = "SELECT c.id, c.kind, c.agent_id, a.name AS agent_name, c.subject, c.rises, c.state, \
       u.username AS opened_by, c.opened_at, c.approvals_needed, \
       (SELECT COUNT(*) FROM change_votes v WHERE v.change_id = c.id AND v.verdict = 'approve') AS approvals \
     FROM change_requests c LEFT JOIN agents a ON a.id = c.agent_id JOIN users u ON u.id = c.opened_by";

fn row(r: &sqlx::any::AnyRow) -> Result<ChangeRow, AppError> {
    Ok(ChangeRow {
        id: r.try_get("id")?,
        kind: stored(Kind::parse(&r.try_get::<String, _>("kind")?))?,
        agent_id: r.try_get("agent_id")?,
        agent_name: r.try_get("agent_name")?,
        subject: r.try_get("subject")?,
        rises: stored(serde_json::from_str(&r.try_get::<String, _>("rises")?))?,
        state: r.try_get("state")?,
        opened_by: r.try_get("opened_by")?,
        opened_at: crate::clock::display(r.try_get("opened_at")?),
        approvals: r.try_get("approvals")?,
        approvals_needed: r.try_get("approvals_needed")?,
    })
}

/// Changes other than promotions (those have their own list): open ones
/// first, then the latest closed.
pub async fn list(db: &Db) -> Result<Vec<ChangeRow>, AppError> {
    let sql = format!(
        "{ROW_SQL} WHERE c.kind <> 'promotion' \
         ORDER BY CASE WHEN c.state = 'open' THEN 0 ELSE 1 END, c.opened_at DESC LIMIT 100"
    );
    sqlx::query(&sql)
        .fetch_all(db)
        .await?
        .iter()
        .map(row)
        .collect()
}

pub async fn detail(db: &Db, viewer: &UserView, id: &str) -> Result<ChangeDetail, AppError> {
    known_id(id, "change request")?;
    let mut conn = db.acquire().await?;
    let r = sqlx::query(&format!("{ROW_SQL} WHERE c.id = $1"))
        .bind(id)
        .fetch_optional(&mut *conn)
        .await?
        .ok_or_else(|| AppError::NotFound("no such change request".into()))?;
    let row = row(&r)?;
    let c = store::read(&mut conn, id).await?;
    let votes = store::votes(&mut conn, id).await?;
    let sponsor = match &c.agent_id {
        Some(agent) => Some(store::sponsor_of(&mut conn, agent).await?),
        None => None,
    };
    let one_person = store::one_person(&mut conn).await?;
    let cannot_vote = if row.state != "open" {
        Some(format!("this change is {}", row.state))
    } else if !viewer.role.can_manage_agents() {
        Some("only leads and admins decide changes to trust".to_string())
    } else if c.opened_by == viewer.id && !one_person {
        Some("you proposed this change; another lead decides it".to_string())
    } else if votes.iter().any(|v| v.by == viewer.username) {
        Some("you have already decided this change".to_string())
    } else {
        None
    };
    let cannot_approve = barred(&c, sponsor.as_deref(), viewer, one_person).map(str::to_string);
    Ok(ChangeDetail {
        can_withdraw: row.state == "open" && c.opened_by == viewer.id,
        diff: shown_diff(&c),
        created: c.before.is_none(),
        row,
        reason: c.reason.clone(),
        votes,
        closed_at: c.closed_at.map(crate::clock::display),
        cannot_vote,
        cannot_approve,
    })
}

/// The diff as the approver reads it: blank grant fields in words (blank
/// means "any target", "no limit"…), and no bookkeeping fields.
fn shown_diff(c: &store::Stored) -> Vec<Diff> {
    let blank = |field: &str| match field {
        "stage" => "the agent's stage",
        "max_per_hour" => "no hourly limit",
        "bounds" => "no bounds",
        "targets" => "any target",
        "expires_on" => "never expires",
        _ => "(none)",
    };
    diff(c.before.as_ref(), &c.after)
        .into_iter()
        .filter(|d| !(c.kind == Kind::Policy && d.field == "version"))
        .map(|mut d| {
            if c.kind == Kind::Grant {
                for side in [&mut d.before, &mut d.after] {
                    if side.as_deref() == Some("") {
                        *side = Some(blank(&d.field).to_string());
                    }
                }
            }
            d
        })
        .collect()
}

/// Every field of the two sides, by dotted path, as text.
pub fn diff(before: Option<&Value>, after: &Value) -> Vec<Diff> {
    let mut left = Vec::new();
    let mut right = Vec::new();
    if let Some(b) = before {
        flatten("", b, &mut left);
    }
    flatten("", after, &mut right);
    let mut fields: Vec<String> = left.iter().chain(&right).map(|(k, _)| k.clone()).collect();
    fields.sort();
    fields.dedup();
    let find = |side: &[(String, String)], f: &str| {
        side.iter().find(|(k, _)| k == f).map(|(_, v)| v.clone())
    };
    fields
        .into_iter()
        .map(|field| Diff {
            before: find(&left, &field),
            after: find(&right, &field),
            field,
        })
        .collect()
}

fn flatten(prefix: &str, v: &Value, out: &mut Vec<(String, String)>) {
    let key = |k: &str| {
        if prefix.is_empty() {
            k.to_string()
        } else {
            format!("{prefix}.{k}")
        }
    };
    match v {
        Value::Object(map) => {
            for (k, v) in map {
                flatten(&key(k), v, out);
            }
        }
        Value::Array(items) => {
            let text: Vec<String> = items
                .iter()
                .map(|i| match i {
                    Value::String(s) => s.clone(),
                    other => other.to_string(),
                })
                .collect();
            out.push((
                prefix.to_string(),
                if text.is_empty() {
                    "(none)".into()
                } else {
                    text.join(", ")
                },
            ));
        }
        Value::Null => out.push((prefix.to_string(), "(none)".into())),
        Value::String(s) => out.push((prefix.to_string(), s.clone())),
        other => out.push((prefix.to_string(), other.to_string())),
    }
}

#[cfg(test)]
mod tests {
    use super::diff;
    use serde_json::json;

    #[test]
    fn the_diff_names_each_field_and_what_changed() {
        let d = diff(
            Some(&json!({ "max_per_hour": 5, "targets": ["a", "b"], "rule": { "approvals": 2 } })),
            &json!({ "max_per_hour": null, "targets": ["a", "b"], "rule": { "approvals": 1 } }),
        );
        let changed: Vec<_> = d
            .iter()
            .filter(|d| d.changed())
            .map(|d| d.field.as_str())
            .collect();
        assert_eq!(changed, ["max_per_hour", "rule.approvals"]);
        assert_eq!(d[0].after.as_deref(), Some("(none)"));
        let created = diff(None, &json!({ "stage": "draft" }));
        assert_eq!(created[0].before, None);
    }
}
