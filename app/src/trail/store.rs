//! Reading the trail for the page: keyset pages by chain position (never
//! OFFSET), names joined in, details split into before and after.

use super::{EventRow, TrailFilter, TrailPage, PAGE};
use crate::db::Db;
use crate::error::AppError;
use serde_json::Value;
use sqlx::Row;

pub async fn page(db: &Db, f: &TrailFilter, before: Option<i64>) -> Result<TrailPage, AppError> {
    let day = |raw: &str, end: bool| -> Result<Option<i64>, AppError> {
        if raw.trim().is_empty() {
            return Ok(None);
        }
        let ms = crate::db::day_start_ms(raw.trim())
            .ok_or_else(|| AppError::Validation(format!("{raw:?} is not a date (YYYY-MM-DD)")))?;
        Ok(Some(if end { ms + 86_400_000 } else { ms }))
    };
    let (from, to) = (day(&f.from, false)?, day(&f.to, true)?);
    let set = |s: &str| Some(s.trim().to_string()).filter(|s| !s.is_empty());
    let rows = sqlx::query(
        "SELECT e.chain_no, e.at, e.actor_kind, e.what, e.subject_kind, e.subject_id, e.detail, \
                COALESCE(u.username, a.name) AS actor \
         FROM audit_events e \
         LEFT JOIN users u ON e.actor_kind = 'user' AND u.id = e.actor_id \
         LEFT JOIN agents a ON e.actor_kind = 'agent' AND a.id = e.actor_id \
         WHERE e.chain_no >= 1 AND ($1 IS NULL OR e.chain_no < $1) \
           AND ($2 IS NULL OR u.username = $2 OR a.name = $2) \
           AND ($3 IS NULL OR e.actor_id = (SELECT id FROM agents WHERE name = $3) \
                OR (e.subject_kind = 'agent' AND e.subject_id = (SELECT id FROM agents WHERE name = $3)) \
                OR (e.subject_kind = 'action' AND e.subject_id IN \
                    (SELECT r.id FROM action_requests r JOIN agents g ON g.id = r.agent_id WHERE g.name = $3))) \
           AND ($4 IS NULL OR e.subject_kind = $4) AND ($5 IS NULL OR e.what = $5) \
           AND ($6 IS NULL OR e.at >= $6) AND ($7 IS NULL OR e.at < $7) \
         ORDER BY e.chain_no DESC LIMIT $8",
    )
    .bind(before)
    .bind(set(&f.actor))
    .bind(set(&f.agent))
    .bind(set(&f.subject_kind))
    .bind(set(&f.what))
    .bind(from)
    .bind(to)
    .bind(PAGE + 1)
    .fetch_all(db)
    .await?;
    let more = rows.len() as i64 > PAGE;
    let events = rows
        .iter()
        .take(PAGE as usize)
        .map(|r| {
            let (changes, other) = split(&r.try_get::<String, _>("detail")?);
            Ok(EventRow {
                n: r.try_get("chain_no")?,
                at: crate::clock::display(r.try_get("at")?),
                actor_kind: r.try_get("actor_kind")?,
                actor: r.try_get("actor")?,
                what: r.try_get("what")?,
                subject_kind: r.try_get("subject_kind")?,
                subject_id: r.try_get("subject_id")?,
                changes,
                other,
            })
        })
        .collect::<Result<Vec<_>, AppError>>()?;
    let older = more.then(|| events.last().map(|e| e.n)).flatten();
    Ok(TrailPage {
        events,
        older,
        kinds: choices(db, "what", &f.what).await?,
        subjects: choices(db, "subject_kind", &f.subject_kind).await?,
    })
}

/// Events a filter's choices are read from: the latest ones, by chain
/// position, so a page view costs the same however long the trail grows.
const CHOICES_FROM: i64 = 5_000;

/// The values one column takes in the latest events, and the one chosen.
async fn choices(db: &Db, column: &'static str, chosen: &str) -> Result<Vec<String>, AppError> {
    let sql = format!(
        "SELECT DISTINCT {column} AS v FROM audit_events \
         WHERE chain_no > (SELECT chain_no FROM audit_head WHERE id = 1) - $1 ORDER BY v"
    );
    let mut values: Vec<String> = sqlx::query(&sql)
        .bind(CHOICES_FROM)
        .fetch_all(db)
        .await?
        .iter()
        .map(|r| r.try_get("v"))
        .collect::<Result<_, _>>()?;
    let chosen = chosen.trim();
    if !chosen.is_empty() && !values.iter().any(|v| v == chosen) {
        values.push(chosen.to_string());
        values.sort();
    }
    Ok(values)
}

type Changes = Vec<(String, String, String)>;

/// A detail's `before` and `after`, field by field (a field on one side
/// only shows as absent on the other); everything else as it is.
pub fn split(detail: &str) -> (Changes, Vec<(String, String)>) {
    let Ok(Value::Object(mut map)) = serde_json::from_str::<Value>(detail) else {
        return (vec![], vec![("detail".into(), detail.to_string())]);
    };
    let side = |v: Option<Value>| match v {
        Some(Value::Object(m)) => m,
        _ => serde_json::Map::new(),
    };
    let (before, after) = (side(map.remove("before")), side(map.remove("after")));
    let mut fields: Vec<&String> = before.keys().chain(after.keys()).collect();
    fields.sort();
    fields.dedup();
    let show = |v: Option<&Value>| v.map_or_else(|| "—".to_string(), |v| v.to_string());
    let changes = fields
        .into_iter()
        .map(|k| (k.clone(), show(before.get(k)), show(after.get(k))))
        .collect();
    let other = map.into_iter().map(|(k, v)| (k, v.to_string())).collect();
    (changes, other)
}

#[cfg(test)]
mod tests {
    use super::split;

    #[test]
    fn a_detail_splits_into_fields_before_and_after_and_the_rest() {
        let (changes, other) = split(
            r#"{"before":{"stage":"propose"},"after":{"stage":"observe","x":1},"reason":"r"}"#,
        );
        assert_eq!(
            changes,
            vec![
                ("stage".into(), "\"propose\"".into(), "\"observe\"".into()),
                ("x".into(), "—".into(), "1".into()),
            ]
        );
        assert_eq!(other, vec![("reason".into(), "\"r\"".into())]);
        let (changes, other) = split("not json");
        assert!(changes.is_empty());
        assert_eq!(other[0].1, "not json");
    }
}
