//! The quotas the database keeps: each agent's own values, the evidence it
//! stored today, and the requests it has waiting. The checks run inside the
//! transaction that writes, so two replicas cannot both take the last place.

use super::limits::{own, Kind, Limits, Overrides};
use super::usage::Usage;
use crate::audit::{self, Actor};
use crate::db::{Db, OnDemand, Tx};
use crate::error::AppError;
use sqlx::{AnyConnection, Row};
use std::collections::HashMap;

const DAY_MS: i64 = 86_400_000;

/// Sets an agent's own quotas (None: the server's default), audited. The
/// decision's index holds them, so the policy epoch moves.
pub async fn set(db: &Db, by: &Actor, agent_id: &str, new: Overrides) -> Result<(), AppError> {
    let mut tx = db.begin().await?;
    crate::policy::store::bump_epoch(&mut tx).await?;
    let before = read(&mut tx, agent_id).await?;
    let bind = |v: Option<u64>| v.map(|v| i64::try_from(v).unwrap_or(i64::MAX));
    sqlx::query(
        "UPDATE agents SET quota_submissions_per_minute = $1, quota_pending = $2, \
         quota_evidence_bytes_per_day = $3, quota_long_polls = $4 WHERE id = $5",
    )
    .bind(bind(new.submissions_per_minute))
    .bind(bind(new.pending))
    .bind(bind(new.evidence_bytes_per_day))
    .bind(bind(new.long_polls))
    .bind(agent_id)
    .execute(&mut *tx)
    .await?;
    let shown = |o: &Overrides| {
        Kind::ALL
            .iter()
            .map(|k| (k.as_str().to_string(), serde_json::json!(own(o, *k))))
            .collect::<serde_json::Map<_, _>>()
    };
    audit::record(
        &mut tx,
        audit::Event {
            actor: by,
            what: "agent.quotas_set",
            subject_kind: "agent",
            subject_id: agent_id,
            detail: serde_json::json!({ "before": shown(&before), "after": shown(&new) }),
        },
    )
    .await?;
    tx.commit().await?;
    Ok(())
}

/// The agent's own quotas, as stored; 404 for an unknown agent.
pub async fn read(conn: &mut AnyConnection, agent_id: &str) -> Result<Overrides, AppError> {
    let row = sqlx::query(
        "SELECT quota_submissions_per_minute, quota_pending, quota_evidence_bytes_per_day, \
         quota_long_polls FROM agents WHERE id = $1",
    )
    .bind(agent_id)
    .fetch_optional(&mut *conn)
    .await?
    .ok_or_else(|| AppError::NotFound("no such agent".into()))?;
    Ok(crate::policy::store::quotas_from_row(&row)?)
}

/// Evidence bytes the agent stored today (UTC).
pub async fn evidence_today(
    conn: &mut AnyConnection,
    agent_id: &str,
    now: i64,
) -> Result<u64, AppError> {
    let row = sqlx::query("SELECT bytes FROM evidence_usage WHERE agent_id = $1 AND day = $2")
        .bind(agent_id)
        .bind(now.div_euclid(DAY_MS))
        .fetch_optional(&mut *conn)
        .await?;
    Ok(match row {
        Some(r) => u64::try_from(r.try_get::<i64, _>("bytes")?).unwrap_or(0),
        None => 0,
    })
}

/// Counts `bytes` of new evidence against the agent's daily quota, or
/// refuses (429, until midnight UTC) if they would pass it. The row stays
/// locked until the transaction ends, so concurrent writers queue here.
pub async fn charge_evidence(
    conn: &mut AnyConnection,
    usage: &Usage,
    limit: u64,
    agent_id: &str,
    bytes: u64,
    now: i64,
) -> Result<(), AppError> {
    if bytes == 0 {
        return Ok(());
    }
    let day = now.div_euclid(DAY_MS);
    let add = |delta: i64| {
        sqlx::query(
            "INSERT INTO evidence_usage (agent_id, day, bytes) VALUES ($1, $2, $3) \
             ON CONFLICT (agent_id, day) DO UPDATE SET bytes = evidence_usage.bytes + excluded.bytes \
             RETURNING bytes",
        )
        .bind(agent_id.to_string())
        .bind(day)
        .bind(delta)
    };
    let delta = i64::try_from(bytes).unwrap_or(i64::MAX);
    let total: i64 = add(delta).fetch_one(&mut *conn).await?.try_get("bytes")?;
    if u64::try_from(total).unwrap_or(0) <= limit {
        return Ok(());
    }
    // Take it back: the rest of the transaction may still commit.
    add(-delta).execute(&mut *conn).await?;
    usage.refused(agent_id, Kind::EvidenceBytes, limit);
    let used = u64::try_from(total - delta).unwrap_or(0);
    Err(AppError::TooManyRequests(
        format!(
            "over this agent's evidence quota of {} a day (UTC): {} stored today, this adds {}",
            mib(limit),
            mib(used),
            mib(bytes)
        ),
        u64::try_from((day + 1) * DAY_MS - now).unwrap_or(0) / 1000 + 1,
    ))
}

/// Charges evidence added outside a submission (added later, or with an
/// outcome) against the agent's own or the default daily quota.
pub async fn charge_evidence_of(
    state: &crate::state::AppState,
    tx: &mut Tx<'_>,
    agent_id: &str,
    bytes: usize,
    now: i64,
) -> Result<(), AppError> {
    if bytes == 0 {
        return Ok(());
    }
    // Read from the row, not the cached index: loading the index inside a
    // transaction that goes on to change what it holds would cache a view
    // that never existed.
    let own = read(tx, agent_id).await?;
    let limit = state
        .settings
        .quotas
        .for_agent(&own)
        .get(Kind::EvidenceBytes);
    charge_evidence(&mut *tx, &state.quota, limit, agent_id, bytes as u64, now).await
}

fn mib(bytes: u64) -> String {
    format!("{:.1} MiB", bytes as f64 / 1_048_576.0)
}

/// Requests of the agent waiting for approval now.
pub async fn pending_now(conn: &mut AnyConnection, agent_id: &str) -> Result<u64, AppError> {
    let n: i64 = sqlx::query(
        "SELECT COUNT(*) AS n FROM action_requests WHERE agent_id = $1 AND state = 'pending_approval'",
    )
    .bind(agent_id)
    .fetch_one(&mut *conn)
    .await?
    .try_get("n")?;
    Ok(u64::try_from(n).unwrap_or(0))
}

/// The quotas a batch of submissions is checked against, counting what the
/// batch itself adds. Batches take the policy lock, so they run one at a
/// time across replicas and the pending count cannot race.
pub struct Batch<'a> {
    defaults: Limits,
    usage: &'a Usage,
    pending: HashMap<String, u64>,
}

impl<'a> Batch<'a> {
    pub fn new(defaults: Limits, usage: &'a Usage) -> Self {
        Batch {
            defaults,
            usage,
            pending: HashMap::new(),
        }
    }

    /// Admits one submission, counting it; `Ok(Err(..))` is the refusal
    /// this submission gets, `Err` a database failure.
    pub async fn admit(
        &mut self,
        conn: &mut impl OnDemand,
        (agent_id, own): (&str, &Overrides),
        waits: bool,
        evidence_bytes: u64,
        now: i64,
    ) -> Result<Result<(), AppError>, AppError> {
        let limits = self.defaults.for_agent(own);
        if waits {
            let limit = limits.get(Kind::Pending);
            let waiting = match self.pending.get(agent_id) {
                Some(n) => *n,
                None => pending_now(conn.conn().await?, agent_id).await?,
            };
            if waiting >= limit {
                self.usage.refused(agent_id, Kind::Pending, limit);
                return Ok(Err(AppError::TooManyRequests(
                    format!(
                        "this agent already has {waiting} requests waiting for approval, its quota; \
                         wait for people to decide some, or cancel ones no longer needed"
                    ),
                    60,
                )));
            }
            self.pending.insert(agent_id.to_string(), waiting + 1);
        }
        let limit = limits.get(Kind::EvidenceBytes);
        let charged = match evidence_bytes {
            0 => Ok(()),
            bytes => {
                charge_evidence(conn.conn().await?, self.usage, limit, agent_id, bytes, now).await
            }
        };
        if let Err(refused) = charged {
            if !matches!(refused, AppError::TooManyRequests(..)) {
                return Err(refused);
            }
            if waits {
                // Not admitted after all: give its place back.
                if let Some(n) = self.pending.get_mut(agent_id) {
                    *n -= 1;
                }
            }
            return Ok(Err(refused));
        }
        Ok(Ok(()))
    }
}
