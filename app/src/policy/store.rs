//! Loading the decision's index from the database, and keeping it fresh.
//!
//! Every change to what the decision reads (catalog, rules, agents, grants)
//! bumps one counter, `policy_epoch`, in the same transaction. Readers
//! compare the counter with their cached index and reload on a mismatch,
//! so a change made on any replica is seen by the next decision everywhere.

use super::{
    AgentPolicy, AgentStatus, Bound, CatalogEntry, Grant, Index, KeyEntry, Policy, Rules, Stage,
    TargetRule, Trigger,
};
use crate::db::{now_ms, Db, Tx};
use crate::error::AppError;
use sqlx::AnyConnection;
use sqlx::Row;
use std::collections::{HashMap, HashSet};
use std::sync::{Arc, RwLock};

/// Marks everything the decision reads as changed. Call inside the
/// transaction that makes the change. On PostgreSQL every replica hears of
/// it and reloads (`replicas/listen.rs`): the notice is sent in this
/// transaction, so it arrives only once the change is visible, and never
/// for a change rolled back.
pub async fn bump_epoch(tx: &mut Tx<'_>) -> Result<(), AppError> {
    sqlx::query("UPDATE policy_epoch SET value = value + 1 WHERE id = 1")
        .execute(&mut **tx)
        .await?;
    if !crate::db::is_sqlite(tx) {
        sqlx::query("SELECT pg_notify('belay_policy', '')")
            .execute(&mut **tx)
            .await?;
    }
    Ok(())
}

/// Writes policy v1 (the built-in defaults) on a fresh database. Several
/// replicas may start at once; the first insert wins.
pub async fn ensure_policy(db: &Db) -> Result<(), AppError> {
    sqlx::query(
        "INSERT INTO policy_versions (version, rules, note, created_by, created_at) \
         VALUES (1, $1, 'built-in defaults', NULL, $2) ON CONFLICT (version) DO NOTHING",
    )
    .bind(Rules::defaults().to_json())
    .bind(now_ms())
    .execute(db)
    .await?;
    Ok(())
}

/// The cached index, shared by every request on this replica.
#[derive(Default)]
pub struct PolicyCache {
    current: RwLock<Option<Arc<Index>>>,
    /// (agent id, capability) pairs known to have been used. The set only
    /// grows, so a replica that has not heard of a use is merely more careful.
    used: RwLock<HashMap<String, HashSet<String>>>,
}

impl PolicyCache {
    /// The index as of now, reloaded on `conn` if anything changed. Inside a
    /// transaction, the index is consistent with what that transaction sees.
    pub async fn current(&self, conn: &mut AnyConnection) -> Result<Arc<Index>, AppError> {
        let epoch: i64 = sqlx::query("SELECT value FROM policy_epoch WHERE id = 1")
            .fetch_one(&mut *conn)
            .await?
            .try_get("value")?;
        self.at(conn, epoch).await
    }

    /// Takes the lock every change to the policy takes — on SQLite the write
    /// lock, on PostgreSQL the epoch row — and returns the index as of that
    /// moment: nothing it holds can change until the transaction ends.
    pub async fn locked(&self, conn: &mut AnyConnection) -> Result<Arc<Index>, AppError> {
        let epoch: i64 =
            sqlx::query("UPDATE policy_epoch SET value = value WHERE id = 1 RETURNING value")
                .fetch_one(&mut *conn)
                .await?
                .try_get("value")?;
        self.at(conn, epoch).await
    }

    /// The index as of `epoch`, which the caller has just read on `conn`.
    pub async fn at(&self, conn: &mut AnyConnection, epoch: i64) -> Result<Arc<Index>, AppError> {
        if let Some(index) = self.cached().filter(|i| i.epoch == epoch) {
            return Ok(index);
        }
        let fresh = Arc::new(load(conn, epoch).await?);
        *self.current.write().unwrap_or_else(|e| e.into_inner()) = Some(fresh.clone());
        Ok(fresh)
    }

    /// Notes a use seen in the database, so later decisions skip the lookup.
    pub fn remember_use(&self, agent_id: &str, capability: &str) {
        self.used
            .write()
            .unwrap_or_else(|e| e.into_inner())
            .entry(agent_id.to_string())
            .or_default()
            .insert(capability.to_string());
    }

    pub(super) fn known_used(&self, agent_id: &str, capability: &str) -> bool {
        self.used
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .get(agent_id)
            .is_some_and(|caps| caps.contains(capability))
    }

    /// The index last loaded, however old: for cheap pre-checks that a
    /// fresh check in the deciding transaction confirms.
    pub fn cached(&self) -> Option<Arc<Index>> {
        self.current
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }
}

async fn load(conn: &mut AnyConnection, epoch: i64) -> Result<Index, AppError> {
    let row =
        sqlx::query("SELECT version, rules FROM policy_versions ORDER BY version DESC LIMIT 1")
            .fetch_optional(&mut *conn)
            .await?;
    let (version, rules) = match row {
        Some(r) => (
            r.try_get("version")?,
            Rules::from_json(&r.try_get::<String, _>("rules")?),
        ),
        None => (0, Err("no policy version is stored".to_string())),
    };
    if let Err(why) = &rules {
        tracing::error!(version, %why, "the current policy cannot be read; holding actions for approval");
    }

    let mut catalog = HashMap::new();
    for r in sqlx::query("SELECT name, triggers FROM capabilities")
        .fetch_all(&mut *conn)
        .await?
    {
        let name: String = r.try_get("name")?;
        let entry = match Trigger::parse_list(&r.try_get::<String, _>("triggers")?) {
            Ok(triggers) => CatalogEntry::Known { triggers },
            Err(why) => {
                tracing::warn!(capability = %name, %why, "unreadable catalog entry");
                CatalogEntry::Unreadable(why)
            }
        };
        catalog.insert(name, entry);
    }

    let mut agents = HashMap::new();
    for r in sqlx::query(
        "SELECT id, name, status, stage, quota_submissions_per_minute, quota_pending, \
         quota_evidence_bytes_per_day, quota_long_polls FROM agents",
    )
    .fetch_all(&mut *conn)
    .await?
    {
        let id: String = r.try_get("id")?;
        let status: String = r.try_get("status")?;
        let stage: String = r.try_get("stage")?;
        // An agent whose stored status or stage we cannot read is treated as
        // suspended: refused, never trusted more than it was.
        let (status, stage) = match (status.as_str(), Stage::parse(&stage)) {
            ("active", Ok(stage)) => (AgentStatus::Active, stage),
            (_, stage) => (AgentStatus::Suspended, stage.unwrap_or(Stage::Observe)),
        };
        agents.insert(
            id,
            AgentPolicy {
                name: r.try_get("name")?,
                status,
                stage,
                grants: HashMap::new(),
                quotas: quotas_from_row(&r)?,
            },
        );
    }
    for r in sqlx::query(
        "SELECT agent_id, capability, stage, max_per_hour, bounds, targets, expires_at FROM grants",
    )
    .fetch_all(&mut *conn)
    .await?
    {
        let agent_id: String = r.try_get("agent_id")?;
        let capability: String = r.try_get("capability")?;
        let grant = grant_from_row(&r, &capability);
        if let Some(agent) = agents.get_mut(&agent_id) {
            agent.grants.insert(capability, grant);
        }
    }

    let mut keys = HashMap::new();
    for r in sqlx::query("SELECT id, agent_id, key_hash, expires_at, revoked_at FROM agent_keys")
        .fetch_all(&mut *conn)
        .await?
    {
        let entry = KeyEntry {
            key_id: r.try_get("id")?,
            agent_id: r.try_get("agent_id")?,
            expires_at_ms: r.try_get("expires_at")?,
            revoked: r.try_get::<Option<i64>, _>("revoked_at")?.is_some(),
        };
        keys.insert(r.try_get("key_hash")?, entry);
    }

    let spot_check_pct: i64 = sqlx::query("SELECT spot_check_pct FROM trust_settings WHERE id = 1")
        .fetch_one(&mut *conn)
        .await?
        .try_get("spot_check_pct")?;

    Ok(Index {
        keys,
        epoch,
        spot_check_pct,
        policy: Policy {
            version,
            rules,
            catalog,
        },
        agents,
    })
}

/// An agent's own quotas; a negative number (written by hand) is unset.
pub fn quotas_from_row(r: &sqlx::any::AnyRow) -> Result<super::QuotaOverrides, sqlx::Error> {
    let own = |column: &str| -> Result<Option<u64>, sqlx::Error> {
        Ok(r.try_get::<Option<i64>, _>(column)?
            .and_then(|v| u64::try_from(v).ok()))
    };
    Ok(super::QuotaOverrides {
        submissions_per_minute: own("quota_submissions_per_minute")?,
        pending: own("quota_pending")?,
        evidence_bytes_per_day: own("quota_evidence_bytes_per_day")?,
        long_polls: own("quota_long_polls")?,
    })
}

/// Grants as stored are checked again on load; one that no longer parses
/// is an error the decision treats as out of scope.
pub fn unreadable_grant(capability: &str, why: impl std::fmt::Display) -> Result<Grant, String> {
    tracing::warn!(capability, %why, "unreadable scope grant");
    Err(why.to_string())
}

/// Reads a stored grant back; anything that does not parse is an error the
/// decision treats as out of scope (never as "no limits").
pub fn grant_from_row(r: &sqlx::any::AnyRow, capability: &str) -> Result<Grant, String> {
    let read = || -> Result<Grant, String> {
        let stage = r
            .try_get::<Option<String>, _>("stage")
            .map_err(|e| e.to_string())?
            .map(|s| Stage::parse(&s))
            .transpose()?;
        let max_per_hour = r
            .try_get::<Option<i64>, _>("max_per_hour")
            .map_err(|e| e.to_string())?
            .map(|n| u32::try_from(n).map_err(|_| format!("bad hourly limit {n}")))
            .transpose()?;
        let bounds: Vec<String> = serde_json::from_str(
            &r.try_get::<String, _>("bounds")
                .map_err(|e| e.to_string())?,
        )
        .map_err(|e| e.to_string())?;
        let targets: Vec<String> = serde_json::from_str(
            &r.try_get::<String, _>("targets")
                .map_err(|e| e.to_string())?,
        )
        .map_err(|e| e.to_string())?;
        Ok(Grant {
            capability: capability.to_string(),
            stage,
            max_per_hour,
            bounds: bounds
                .iter()
                .map(|b| Bound::parse(b))
                .collect::<Result<_, _>>()?,
            targets: targets
                .iter()
                .map(|t| TargetRule::parse(t))
                .collect::<Result<_, _>>()?,
            expires_at_ms: r.try_get("expires_at").map_err(|e| e.to_string())?,
        })
    };
    read().or_else(|why| unreadable_grant(capability, why))
}
