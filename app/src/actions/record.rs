//! An agent's record with a capability, as the request page shows it: read
//! from the rollups the write path keeps, so the page costs the same after
//! a million requests as after ten; and the same record counted from the
//! requests themselves, which tests and the `queue` benchmark compare it
//! against.
//!
//! The counts are the trust metrics': `approved` counts what reviewers
//! approved, whatever happened after (an approval left unclaimed, or
//! cancelled with its agent's suspension, still was one); `corrected` those
//! of them approved with an edit; `expired` those no one decided in time;
//! `allowed` those the policy allowed outright; `failed` every reported
//! failure; `total` every request.

use super::model::Record;
use crate::db::Db;
use crate::error::AppError;
use sqlx::Row;

/// The record, from the agent's weekly rollup rows for the capability.
pub async fn of(db: &Db, agent_id: &str, capability: &str) -> Result<Record, AppError> {
    let c = crate::trust::rollup::lifetime(db, agent_id, capability).await?;
    Ok(Record {
        approved: c.approved,
        corrected: c.corrected,
        rejected: c.rejected,
        expired: c.expired,
        allowed: c.allowed,
        failed: c.failed,
        total: c.submitted,
    })
}

/// The same record counted over every request of the agent with the
/// capability: what the rollups save the request page.
pub async fn counted(db: &Db, agent_id: &str, capability: &str) -> Result<Record, AppError> {
    // A request a reviewer decided and did not reject was approved (the
    // decision stamps `decided_by`; expiry and the agent's cancel do not).
    let approved = "decided_by IS NOT NULL AND state <> 'rejected'";
    let sum = |when: &str| format!("CAST(SUM(CASE WHEN {when} THEN 1 ELSE 0 END) AS BIGINT)");
    let sql = format!(
        "SELECT COUNT(*) AS total, {} AS approved, {} AS corrected, {} AS rejected, \
                {} AS expired, {} AS allowed, {} AS failed \
         FROM action_requests WHERE agent_id = $1 AND capability = $2",
        sum(approved),
        sum(&format!("{approved} AND correction IS NOT NULL")),
        sum("state = 'rejected'"),
        sum("state = 'expired' AND decided_by IS NULL"),
        sum("decision = 'allowed'"),
        sum("state = 'failed'"),
    );
    let row = sqlx::query(&sql)
        .bind(agent_id)
        .bind(capability)
        .fetch_one(db)
        .await?;
    // SUM over no rows is NULL.
    let n = |c: &str| {
        row.try_get::<Option<i64>, _>(c)
            .map(Option::unwrap_or_default)
    };
    Ok(Record {
        approved: n("approved")?,
        corrected: n("corrected")?,
        rejected: n("rejected")?,
        expired: n("expired")?,
        allowed: n("allowed")?,
        failed: n("failed")?,
        total: n("total")?,
    })
}
