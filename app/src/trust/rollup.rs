//! Rollups: per agent, capability and day, the counts every metric is made
//! of, added to in the same transaction as the change they count. Reading
//! an agent's 90 days is then a few hundred rows, however long its history.

use crate::db::{Db, Tx};
use crate::error::AppError;
use crate::sql::Script;
use sqlx::Row as _;
use std::collections::BTreeMap;

pub const DAY_MS: i64 = 86_400_000;

/// Upper bounds (exclusive) of the time-to-decision buckets; the last
/// bucket holds everything slower. The migration's backfill uses the same.
pub const WAIT_BOUNDS_MS: [i64; 9] = [
    60_000,      // 1 min
    300_000,     // 5 min
    900_000,     // 15 min
    1_800_000,   // 30 min
    3_600_000,   // 1 h
    14_400_000,  // 4 h
    28_800_000,  // 8 h
    86_400_000,  // 1 day
    259_200_000, // 3 days
];
pub use super::model::WAIT_BUCKETS;

pub fn day_of(ms: i64) -> i64 {
    ms.div_euclid(DAY_MS)
}

pub fn wait_bucket(ms: i64) -> usize {
    WAIT_BOUNDS_MS
        .iter()
        .position(|bound| ms < *bound)
        .unwrap_or(WAIT_BUCKETS - 1)
}

/// What one change adds to its request's day.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Counts {
    pub submitted: i64,
    pub allowed: i64,
    pub held: i64,
    pub drafted: i64,
    pub denied: i64,
    pub approved: i64,
    pub corrected: i64,
    pub rejected: i64,
    pub expired: i64,
    pub succeeded: i64,
    pub failed: i64,
    pub incidents: i64,
    pub wait: [i64; WAIT_BUCKETS],
}

/// The stored column order, shared by writes and reads.
pub const COLUMNS: [&str; 12] = [
    "submitted",
    "allowed",
    "held",
    "drafted",
    "denied",
    "approved",
    "corrected",
    "rejected",
    "expired",
    "succeeded",
    "failed",
    "incidents",
];

impl Counts {
    pub fn values(&self) -> [i64; 12 + WAIT_BUCKETS] {
        let mut v = [0; 12 + WAIT_BUCKETS];
        v[..12].copy_from_slice(&[
            self.submitted,
            self.allowed,
            self.held,
            self.drafted,
            self.denied,
            self.approved,
            self.corrected,
            self.rejected,
            self.expired,
            self.succeeded,
            self.failed,
            self.incidents,
        ]);
        v[12..].copy_from_slice(&self.wait);
        v
    }

    pub fn from_values(v: &[i64]) -> Counts {
        let mut wait = [0; WAIT_BUCKETS];
        wait.copy_from_slice(&v[12..12 + WAIT_BUCKETS]);
        Counts {
            submitted: v[0],
            allowed: v[1],
            held: v[2],
            drafted: v[3],
            denied: v[4],
            approved: v[5],
            corrected: v[6],
            rejected: v[7],
            expired: v[8],
            succeeded: v[9],
            failed: v[10],
            incidents: v[11],
            wait,
        }
    }

    pub fn add(&mut self, other: &Counts) {
        let mut v = self.values();
        for (a, b) in v.iter_mut().zip(other.values()) {
            *a += b;
        }
        *self = Counts::from_values(&v);
    }

    /// A human decision (approved or rejected) after `wait_ms`.
    pub fn decided(approved: bool, corrected: bool, wait_ms: i64) -> Counts {
        let mut c = Counts::default();
        if approved {
            c.approved = 1;
            c.corrected = i64::from(corrected);
        } else {
            c.rejected = 1;
        }
        c.wait[wait_bucket(wait_ms)] = 1;
        c
    }
}

/// Every stored counter, wait buckets included, in `Counts::values` order.
pub fn columns() -> Vec<String> {
    let mut cols: Vec<String> = COLUMNS.iter().map(|c| c.to_string()).collect();
    cols.extend((0..WAIT_BUCKETS).map(|i| format!("wait_{i}")));
    cols
}

/// The calendar week (Monday first) a day belongs to.
pub fn week_of(day: i64) -> i64 {
    (day + 3).div_euclid(7)
}

/// The Monday a week starts on.
pub fn week_start(week: i64) -> i64 {
    week * 7 - 3
}

/// Adds `counts` to the request's day (`created_at_ms`) and week.
pub async fn add(
    tx: &mut Tx<'_>,
    agent_id: &str,
    capability: &str,
    created_at_ms: i64,
    counts: &Counts,
) -> Result<(), AppError> {
    add_many(
        tx,
        [(
            agent_id.to_string(),
            capability.to_string(),
            created_at_ms,
            counts.clone(),
        )],
    )
    .await
}

/// Adds many changes in one statement: a row per agent, capability and
/// period (day and week), naming only the counters that change.
pub async fn add_many(
    tx: &mut Tx<'_>,
    changes: impl IntoIterator<Item = (String, String, i64, Counts)>,
) -> Result<(), AppError> {
    let merged = Merged::of(changes);
    // A statement at a time: SQLite numbers at most 32,766 values in one.
    for chunk in merged.rows.chunks(merged.rows_per_statement()) {
        let mut script = Script::new();
        merged.insert(&mut script, chunk);
        script.run(tx).await?;
    }
    Ok(())
}

/// `add_many` as a part of a larger write (the writer's batch, at most a
/// few hundred rows), so a batch of submissions costs its rollups no trip
/// of their own.
pub fn add_to(
    script: &mut Script<'_>,
    changes: impl IntoIterator<Item = (String, String, i64, Counts)>,
) {
    let merged = Merged::of(changes);
    for chunk in merged.rows.chunks(merged.rows_per_statement()) {
        merged.insert(script, chunk);
    }
}

type Row = ((String, String, i64, i64), Counts);

/// Changes summed per row, and the counters any of them moves.
struct Merged {
    rows: Vec<Row>,
    used: Vec<usize>,
}

impl Merged {
    fn of(changes: impl IntoIterator<Item = (String, String, i64, Counts)>) -> Merged {
        // Sorted, so concurrent transactions lock rows in the same order.
        let mut merged: BTreeMap<(String, String, i64, i64), Counts> = BTreeMap::new();
        for (agent, cap, at, counts) in changes {
            let day = day_of(at);
            for (grain, period) in [(0, day), (1, week_of(day))] {
                merged
                    .entry((agent.clone(), cap.clone(), grain, period))
                    .or_default()
                    .add(&counts);
            }
        }
        let used = (0..12 + WAIT_BUCKETS)
            .filter(|i| merged.values().any(|c| c.values()[*i] != 0))
            .collect();
        Merged {
            rows: merged.into_iter().collect(),
            used,
        }
    }

    /// Within every backend's limit on bound parameters.
    fn rows_per_statement(&self) -> usize {
        (30_000 / (4 + self.used.len())).max(1)
    }

    /// One upsert of `rows` (none if no counter moves).
    fn insert(&self, script: &mut Script<'_>, rows: &[Row]) {
        if self.used.is_empty() || rows.is_empty() {
            return;
        }
        let all = columns();
        let names = self
            .used
            .iter()
            .map(|i| all[*i].as_str())
            .collect::<Vec<_>>();
        let values = crate::db::placeholders(rows.len(), 4 + self.used.len());
        script.add(&format!(
            "INSERT INTO action_rollups (agent_id, grain, at, capability, {}) VALUES {values} \
             ON CONFLICT (agent_id, grain, at, capability) DO UPDATE SET {}",
            names.join(", "),
            names
                .iter()
                .map(|c| format!("{c} = action_rollups.{c} + excluded.{c}"))
                .collect::<Vec<_>>()
                .join(", ")
        ));
        for ((agent, cap, grain, period), counts) in rows {
            let values = counts.values();
            script
                .bind(agent.clone())
                .bind(*grain)
                .bind(*period)
                .bind(cap.clone());
            for i in &self.used {
                script.bind(values[*i]);
            }
        }
    }
}

/// Counts a reviewer's decision (an approval or a rejection) on the
/// request's day, for "distinct reviewers".
pub async fn add_reviewer(
    tx: &mut Tx<'_>,
    agent_id: &str,
    capability: &str,
    created_at_ms: i64,
    user_id: &str,
) -> Result<(), AppError> {
    sqlx::query(
        "INSERT INTO reviewer_rollups (agent_id, day, capability, user_id, decisions) \
         VALUES ($1, $2, $3, $4, 1) ON CONFLICT (agent_id, day, capability, user_id) \
         DO UPDATE SET decisions = reviewer_rollups.decisions + 1",
    )
    .bind(agent_id)
    .bind(day_of(created_at_ms))
    .bind(capability)
    .bind(user_id)
    .execute(&mut **tx)
    .await?;
    Ok(())
}

/// A batch of fresh decisions, counted in one statement of the writer's
/// `script`.
pub fn add_submitted(
    script: &mut Script<'_>,
    decided: &[(&str, &str, i64, crate::policy::Outcome)],
) {
    use crate::policy::Outcome;
    let changes = decided.iter().map(|(agent_id, capability, at, outcome)| {
        let mut c = Counts {
            submitted: 1,
            ..Counts::default()
        };
        match outcome {
            Outcome::Allowed => c.allowed = 1,
            Outcome::PendingApproval => c.held = 1,
            Outcome::Drafted => c.drafted = 1,
            Outcome::Denied => c.denied = 1,
        }
        (agent_id.to_string(), capability.to_string(), *at, c)
    });
    add_to(script, changes);
}

/// Everything counted for the agent and capability since its first
/// request: the sum of its weekly rows, a few dozen a year however many
/// requests they count (the request page's record).
pub async fn lifetime(db: &Db, agent_id: &str, capability: &str) -> Result<Counts, AppError> {
    let cols = columns();
    let sums = cols
        .iter()
        .map(|c| format!("CAST(SUM({c}) AS BIGINT) AS {c}"))
        .collect::<Vec<_>>()
        .join(", ");
    let row = sqlx::query(&format!(
        "SELECT {sums} FROM action_rollups WHERE agent_id = $1 AND grain = 1 AND capability = $2"
    ))
    .bind(agent_id)
    .bind(capability)
    .fetch_one(db)
    .await?;
    let values = cols
        .iter()
        // SUM over no rows is NULL.
        .map(|c| {
            row.try_get::<Option<i64>, _>(c.as_str())
                .map(Option::unwrap_or_default)
        })
        .collect::<Result<Vec<i64>, _>>()?;
    Ok(Counts::from_values(&values))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn waits_fall_in_their_bucket() {
        assert_eq!(wait_bucket(0), 0);
        assert_eq!(wait_bucket(59_999), 0);
        assert_eq!(wait_bucket(60_000), 1);
        assert_eq!(wait_bucket(3_599_999), 4);
        assert_eq!(wait_bucket(259_200_000), WAIT_BUCKETS - 1);
    }

    #[test]
    fn weeks_start_on_monday() {
        // Day 0 (1970-01-01) was a Thursday; day 4 a Monday.
        assert_eq!(
            (week_of(0), week_of(3), week_of(4), week_of(10)),
            (0, 0, 1, 1)
        );
        assert_eq!(week_start(1), 4);
        assert_eq!(week_start(week_of(20_000)), 20_000 - (20_000 + 3) % 7);
    }

    #[test]
    fn counts_add_column_by_column() {
        let mut a = Counts::decided(true, true, 61_000);
        a.add(&Counts::decided(false, false, 10));
        assert_eq!((a.approved, a.corrected, a.rejected), (1, 1, 1));
        assert_eq!(a.wait[0..2], [1, 1]);
        assert_eq!(Counts::from_values(&a.values()), a);
    }
}
