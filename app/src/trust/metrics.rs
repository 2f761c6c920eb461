//! Metrics for one agent, from its rollups; and the same figures from the
//! raw requests, which tests and the benchmark compare against.

use super::model::{median_bucket, AgentMetrics, CapabilityFigures, Figures, WeekBar, WINDOWS};
use super::rollup::{columns, day_of, week_of, week_start, Counts, DAY_MS, WAIT_BOUNDS_MS};
use crate::db::Db;
use crate::error::AppError;
use sqlx::Row;
use std::collections::{BTreeMap, HashSet};

/// Weeks in the trend chart.
const WEEKS: i64 = 13;

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

/// Figures from summed counts.
fn to_figures(days: i64, sum: &Counts, reviewers: i64) -> Figures {
    Figures {
        days,
        submitted: sum.submitted,
        allowed: sum.allowed,
        held: sum.held,
        drafted: sum.drafted,
        denied: sum.denied,
        approved: sum.approved,
        corrected: sum.corrected,
        rejected: sum.rejected,
        expired: sum.expired,
        succeeded: sum.succeeded,
        failed: sum.failed,
        incidents: sum.incidents,
        reviewers,
        median_wait: median_bucket(&sum.wait),
    }
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

/// Every window, per capability, and the weekly trend, summed by the
/// database: each window reads the weekly rollups of its whole weeks and
/// the daily ones of the days before them, so an agent's 90 days are a few
/// hundred small rows whatever its volume, and a few dozen cross into Rust.
/// Equal to `fold` over the daily rows (tested).
pub async fn summary(db: &Db, agent_id: &str, today: i64) -> Result<AgentMetrics, AppError> {
    let cols = columns();
    let list = cols.join(", ");
    // Whole numbers computed here, never input: inlined.
    let mut parts = Vec::new();
    for (w, days) in WINDOWS.iter().enumerate() {
        let from = today - days + 1;
        let first_week = if week_start(week_of(from)) == from {
            week_of(from)
        } else {
            week_of(from) + 1
        };
        parts.push(format!(
            "SELECT {w} AS w, capability, {list} FROM action_rollups \
             WHERE agent_id = $1 AND grain = 0 AND at >= {from} AND at < {}",
            week_start(first_week)
        ));
        parts.push(format!(
            "SELECT {w} AS w, capability, {list} FROM action_rollups \
             WHERE agent_id = $1 AND grain = 1 AND at >= {first_week}"
        ));
    }
    let sums = cols
        .iter()
        .map(|c| format!("CAST(SUM({c}) AS BIGINT) AS {c}"))
        .collect::<Vec<_>>()
        .join(", ");
    let sql_a = format!(
        "SELECT capability, w, {sums} FROM ({}) parts GROUP BY capability, w",
        parts.join(" UNION ALL ")
    );
    let by_window = sqlx::query(&sql_a).bind(agent_id).fetch_all(db);
    let oldest = today - WINDOWS[WINDOWS.len() - 1] + 1;
    let sql_b = format!(
        "SELECT capability, user_id, MAX(day) AS last FROM reviewer_rollups \
         WHERE agent_id = $1 AND day >= {oldest} GROUP BY capability, user_id"
    );
    let people = sqlx::query(&sql_b).bind(agent_id).fetch_all(db);
    let this_week = week_of(today);
    let first = this_week - WEEKS + 1;
    let week_sums = [
        "allowed",
        "approved",
        "corrected",
        "rejected",
        "expired",
        "incidents",
    ]
    .map(|c| format!("CAST(SUM({c}) AS BIGINT) AS {c}"))
    .join(", ");
    let sql_c = format!(
        "SELECT at AS week, {week_sums} FROM action_rollups \
         WHERE agent_id = $1 AND grain = 1 AND at >= {first} GROUP BY at"
    );
    let weekly = sqlx::query(&sql_c).bind(agent_id).fetch_all(db);
    let (by_window, people, weekly) = tokio::join!(by_window, people, weekly);
    let (by_window, people, weekly) = (by_window?, people?, weekly?);

    // Counts per capability and window.
    let mut per: BTreeMap<String, Vec<Counts>> = BTreeMap::new();
    for r in &by_window {
        let w = usize::try_from(r.try_get::<i64, _>("w")?).unwrap_or(usize::MAX);
        let values = cols
            .iter()
            .map(|c| {
                r.try_get::<Option<i64>, _>(c.as_str())
                    .map(Option::unwrap_or_default)
            })
            .collect::<Result<Vec<i64>, _>>()?;
        let windows = per
            .entry(r.try_get("capability")?)
            .or_insert_with(|| vec![Counts::default(); WINDOWS.len()]);
        if let Some(slot) = windows.get_mut(w) {
            *slot = Counts::from_values(&values);
        }
    }
    // Who decided, per capability, and the last day they did.
    let mut who: Vec<(String, String, i64)> = Vec::with_capacity(people.len());
    for r in &people {
        who.push((
            r.try_get("capability")?,
            r.try_get("user_id")?,
            r.try_get("last")?,
        ));
    }
    let reviewers = |w: usize, only: Option<&str>| -> i64 {
        let from = today - WINDOWS[w] + 1;
        let set: HashSet<&str> = who
            .iter()
            .filter(|(c, _, last)| *last >= from && only.is_none_or(|o| o == c))
            .map(|(_, u, _)| u.as_str())
            .collect();
        set.len() as i64
    };
    let mut totals = vec![Counts::default(); WINDOWS.len()];
    let capabilities = per
        .into_iter()
        .map(|(name, windows)| {
            let figures = windows
                .iter()
                .enumerate()
                .map(|(w, counts)| {
                    totals[w].add(counts);
                    to_figures(WINDOWS[w], counts, reviewers(w, Some(&name)))
                })
                .collect();
            CapabilityFigures {
                capability: name,
                windows: figures,
            }
        })
        .collect();
    let windows = (0..WINDOWS.len())
        .map(|w| to_figures(WINDOWS[w], &totals[w], reviewers(w, None)))
        .collect();
    let mut weeks: Vec<WeekBar> = (first..=this_week)
        .map(|week| WeekBar {
            starts: crate::clock::display(week_start(week) * DAY_MS)[..10].to_string(),
            ..WeekBar::default()
        })
        .collect();
    for r in &weekly {
        let Some(bar) = usize::try_from(r.try_get::<i64, _>("week")? - first)
            .ok()
            .and_then(|i| weeks.get_mut(i))
        else {
            continue;
        };
        let get = |c: &str| {
            r.try_get::<Option<i64>, _>(c)
                .map(Option::unwrap_or_default)
        };
        bar.allowed = get("allowed")?;
        bar.corrected = get("corrected")?;
        bar.approved = get("approved")? - bar.corrected;
        bar.rejected = get("rejected")?;
        bar.expired = get("expired")?;
        bar.incidents = get("incidents")?;
    }
    Ok(AgentMetrics {
        windows,
        capabilities,
        weeks,
        days_at_stage: 0,
        history: vec![],
    })
}

/// The agent's metrics from its rollups, with time at its stage and the
/// stage history.
pub async fn for_agent(db: &Db, agent_id: &str, now: i64) -> Result<AgentMetrics, AppError> {
    let today = day_of(now);
    let mut m = summary(db, agent_id, today).await?;
    m.history = super::history::timeline(db, agent_id).await?;
    m.days_at_stage = super::history::days_at_stage(db, agent_id, None, now).await?;
    Ok(m)
}
