//! Upgrading open requests to canonical-JSON payload hashes (RFC 8785).
//! Earlier releases hashed serde_json's own text, which for most payloads
//! is the same bytes but not for all (`1.0` against `1`, for one). A
//! waiting or approved request whose stored hash is exactly the old hash of
//! what is stored moves to the new one, with its approvals; one whose
//! stored hash matches neither is left alone, so a payload changed behind
//! Belay's back still fails its claim. Runs once, at the first start of a
//! release that has it; only requests from before it can need it.

use super::submission::StoredPayload;
use crate::db::{now_ms, Db};
use crate::error::AppError;
use sqlx::Row;

/// The upgrade's name in `data_upgrades`.
const NAME: &str = "canonical_payload_hashes";

/// Runs the upgrade unless it ran before; answers how many requests moved.
pub async fn once(db: &Db) -> Result<usize, AppError> {
    let done = sqlx::query("SELECT 1 AS one FROM data_upgrades WHERE name = $1")
        .bind(NAME)
        .fetch_optional(db)
        .await?
        .is_some();
    if done {
        return Ok(0);
    }
    let moved = canonical_payload_hashes(db).await?;
    sqlx::query(
        "INSERT INTO data_upgrades (name, done_at) VALUES ($1, $2) ON CONFLICT (name) DO NOTHING",
    )
    .bind(NAME)
    .bind(now_ms())
    .execute(db)
    .await?;
    Ok(moved)
}

/// Rewrites what needs it; answers how many requests moved.
pub async fn canonical_payload_hashes(db: &Db) -> Result<usize, AppError> {
    let open: Vec<(String, String)> = sqlx::query(
        "SELECT id, payload_hash FROM action_requests WHERE state IN ('pending_approval', 'approved')",
    )
    .fetch_all(db)
    .await?
    .iter()
    .map(|r| Ok((r.try_get("id")?, r.try_get("payload_hash")?)))
    .collect::<Result<_, AppError>>()?;
    let mut moved = 0;
    for (id, old) in open {
        let mut tx = db.begin().await?;
        let payload = StoredPayload::read(&mut tx, &id).await?;
        let new = payload.hash(None);
        if new == old || legacy_hash(payload) != old {
            continue;
        }
        for sql in [
            "UPDATE approvals SET payload_hash = $1 WHERE action_id = $2 AND payload_hash = $3",
            "UPDATE action_requests SET approved_hash = $1 WHERE id = $2 AND approved_hash = $3",
            "UPDATE action_requests SET payload_hash = $1 WHERE id = $2 AND payload_hash = $3",
        ] {
            sqlx::query(sql)
                .bind(&new)
                .bind(&id)
                .bind(&old)
                .execute(&mut *tx)
                .await?;
        }
        tx.commit().await?;
        moved += 1;
    }
    Ok(moved)
}

/// The hash as earlier releases computed it: the same value, as
/// serde_json's compact text (sorted keys, its own number format).
fn legacy_hash(mut p: StoredPayload) -> String {
    p.evidence.sort_unstable();
    let text = serde_json::json!({
        "capability": p.capability,
        "target": p.target,
        "summary": p.summary,
        "params": p.params,
        "observation": p.observation,
        "evidence": p.evidence,
    })
    .to_string();
    crate::evidence::parse::sha256_hex(text.as_bytes())
}
