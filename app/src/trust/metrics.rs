//! Metrics for one agent, summed by the database from its rollups.

use super::model::{median_bucket, AgentMetrics, CapabilityFigures, Figures, WeekBar, WINDOWS};
use super::rollup::{columns, day_of, week_of, week_start, Counts, DAY_MS};
use crate::db::Db;
use crate::error::AppError;
use sqlx::Row;
use std::collections::{BTreeMap, HashSet};

/// Weeks in the trend chart.
pub(super) const WEEKS: i64 = 13;

/// Figures from summed counts.
pub(super) fn to_figures(days: i64, sum: &Counts, reviewers: i64) -> Figures {
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
