//! Metrics folded in Rust from daily rows: the rollups' days (for a review's
//! frozen figures and the dashboard), or the same rows counted from the raw
//! requests, which tests and the benchmark compare the summed path against.

use super::metrics::{to_figures, WEEKS};
use super::model::{AgentMetrics, CapabilityFigures, Figures, WeekBar, WINDOWS};
use super::rollup::{columns, week_of, week_start, Counts, DAY_MS, WAIT_BOUNDS_MS};
use crate::db::Db;
use crate::error::AppError;
use sqlx::Row;
use std::collections::{BTreeMap, HashSet};

/// Counts for one day and capability.
pub struct DayRow {
    pub day: i64,
    pub capability: String,
    pub counts: Counts,
}

/// One reviewer who decided something on a day, for a capability.
pub struct ReviewerRow {
    pub day: i64,
    pub capability: String,
    pub user_id: String,
}

/// Rollup rows of the agent's last `days` days, today included.
pub async fn rollups(
    db: &Db,
    agent_id: &str,
    today: i64,
    days: i64,
) -> Result<(Vec<DayRow>, Vec<ReviewerRow>), AppError> {
    let from = today - days + 1;
    let sql = format!(
        "SELECT at AS day, capability, {} FROM action_rollups WHERE agent_id = $1 AND grain = 0 AND at >= $2",
        columns().join(", ")
    );
    let rows = sqlx::query(&sql)
        .bind(agent_id)
        .bind(from)
        .fetch_all(db)
        .await?;
    let reviewers = sqlx::query(
        "SELECT day, capability, user_id FROM reviewer_rollups WHERE agent_id = $1 AND day >= $2",
    )
    .bind(agent_id)
    .bind(from)
    .fetch_all(db)
    .await?;
    Ok((day_rows(&rows)?, reviewer_rows(&reviewers)?))
}

/// The same rows counted from the requests themselves: a GROUP BY over
/// every request of the window (what the rollups save us).
pub async fn raw(
    db: &Db,
    agent_id: &str,
    today: i64,
    days: i64,
) -> Result<(Vec<DayRow>, Vec<ReviewerRow>), AppError> {
    let from_ms = (today - days + 1) * DAY_MS;
    let human = "decided_by IS NOT NULL";
    let wait = "decided_at - created_at";
    let mut sums = vec![
        "COUNT(*)".to_string(),
        "SUM(CASE WHEN decision = 'allowed' THEN 1 ELSE 0 END)".into(),
        "SUM(CASE WHEN decision = 'pending_approval' THEN 1 ELSE 0 END)".into(),
        "SUM(CASE WHEN decision = 'drafted' THEN 1 ELSE 0 END)".into(),
        "SUM(CASE WHEN decision = 'denied' THEN 1 ELSE 0 END)".into(),
        format!("SUM(CASE WHEN {human} AND state <> 'rejected' THEN 1 ELSE 0 END)"),
        format!("SUM(CASE WHEN {human} AND state <> 'rejected' AND correction IS NOT NULL THEN 1 ELSE 0 END)"),
        "SUM(CASE WHEN state = 'rejected' THEN 1 ELSE 0 END)".into(),
        "SUM(CASE WHEN state = 'expired' THEN 1 ELSE 0 END)".into(),
        "SUM(CASE WHEN state = 'succeeded' THEN 1 ELSE 0 END)".into(),
        "SUM(CASE WHEN state = 'failed' THEN 1 ELSE 0 END)".into(),
        "SUM(CASE WHEN incident <> 0 THEN 1 ELSE 0 END)".into(),
    ];
    let mut lower = i64::MIN;
    for upper in WAIT_BOUNDS_MS.iter().map(|b| Some(*b)).chain([None]) {
        let low = if lower == i64::MIN {
            String::new()
        } else {
            format!(" AND {wait} >= {lower}")
        };
        let high = upper.map_or(String::new(), |u| format!(" AND {wait} < {u}"));
        sums.push(format!(
            "SUM(CASE WHEN {human}{low}{high} THEN 1 ELSE 0 END)"
        ));
        lower = upper.unwrap_or(i64::MAX);
    }
    let sql = format!(
        "SELECT created_at / {DAY_MS} AS day, capability, {} FROM action_requests \
         WHERE agent_id = $1 AND created_at >= $2 GROUP BY created_at / {DAY_MS}, capability",
        sums.iter()
            .zip(columns())
            .map(|(s, c)| format!("{s} AS {c}"))
            .collect::<Vec<_>>()
            .join(", ")
    );
    let rows = sqlx::query(&sql)
        .bind(agent_id)
        .bind(from_ms)
        .fetch_all(db)
        .await?;
    let reviewers = sqlx::query(&format!(
        "SELECT DISTINCT r.created_at / {DAY_MS} AS day, r.capability, p.user_id \
         FROM approvals p JOIN action_requests r ON r.id = p.action_id \
         WHERE r.agent_id = $1 AND r.created_at >= $2 \
         UNION SELECT created_at / {DAY_MS}, capability, decided_by FROM action_requests \
         WHERE agent_id = $1 AND created_at >= $2 AND state = 'rejected' AND decided_by IS NOT NULL"
    ))
    .bind(agent_id)
    .bind(from_ms)
    .fetch_all(db)
    .await?;
    Ok((day_rows(&rows)?, reviewer_rows(&reviewers)?))
}

fn day_rows(rows: &[sqlx::any::AnyRow]) -> Result<Vec<DayRow>, AppError> {
    let cols = columns();
    rows.iter()
        .map(|r| {
            let values = cols
                .iter()
                // SUM over no rows is NULL on some backends.
                .map(|c| {
                    r.try_get::<Option<i64>, _>(c.as_str())
                        .map(Option::unwrap_or_default)
                })
                .collect::<Result<Vec<i64>, _>>()?;
            Ok(DayRow {
                day: r.try_get("day")?,
                capability: r.try_get("capability")?,
                counts: Counts::from_values(&values),
            })
        })
        .collect()
}

fn reviewer_rows(rows: &[sqlx::any::AnyRow]) -> Result<Vec<ReviewerRow>, AppError> {
    rows.iter()
        .map(|r| {
            Ok(ReviewerRow {
                day: r.try_get("day")?,
                capability: r.try_get("capability")?,
                user_id: r.try_get("user_id")?,
            })
        })
        .collect()
}

/// Figures over the last `days` days, for the capabilities `only` lets in.
pub fn figures(
    rows: &[DayRow],
    reviewers: &[ReviewerRow],
    today: i64,
    days: i64,
    only: &dyn Fn(&str) -> bool,
) -> Figures {
    let from = today - days + 1;
    let mut sum = Counts::default();
    for r in rows.iter().filter(|r| r.day >= from && only(&r.capability)) {
        sum.add(&r.counts);
    }
    let people: HashSet<&str> = reviewers
        .iter()
        .filter(|r| r.day >= from && only(&r.capability))
        .map(|r| r.user_id.as_str())
        .collect();
    to_figures(days, &sum, people.len() as i64)
}

/// Every window, per capability, and the weekly trend.
pub fn fold(rows: &[DayRow], reviewers: &[ReviewerRow], today: i64) -> AgentMetrics {
    let all = |_: &str| true;
    let windows = WINDOWS
        .iter()
        .map(|d| figures(rows, reviewers, today, *d, &all))
        .collect();
    let oldest = today - WINDOWS[WINDOWS.len() - 1] + 1;
    let names: BTreeMap<&str, ()> = rows
        .iter()
        .filter(|r| r.day >= oldest)
        .map(|r| (r.capability.as_str(), ()))
        .collect();
    let capabilities = names
        .keys()
        .map(|name| CapabilityFigures {
            capability: name.to_string(),
            windows: WINDOWS
                .iter()
                .map(|d| figures(rows, reviewers, today, *d, &|c| c == *name))
                .collect(),
        })
        .collect();
    let this_week = week_of(today);
    let weeks = (0..WEEKS)
        .map(|i| {
            let week = this_week - WEEKS + 1 + i;
            let mut bar = WeekBar {
                starts: crate::clock::display(week_start(week) * DAY_MS)[..10].to_string(),
                ..WeekBar::default()
            };
            for r in rows.iter().filter(|r| week_of(r.day) == week) {
                bar.allowed += r.counts.allowed;
                bar.approved += r.counts.approved - r.counts.corrected;
                bar.corrected += r.counts.corrected;
                bar.rejected += r.counts.rejected;
                bar.expired += r.counts.expired;
                bar.incidents += r.counts.incidents;
            }
            bar
        })
        .collect();
    AgentMetrics {
        windows,
        capabilities,
        weeks,
        days_at_stage: 0,
        history: vec![],
    }
}
