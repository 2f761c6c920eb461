//! Upgrading open requests to canonical-JSON payload hashes (RFC 8785).
//! Earlier releases hashed serde_json's own text, which for most payloads
//! is the same bytes but not for all (`1.0` against `1`, for one). A
//! waiting or approved request whose stored hash is exactly the old hash of
//! what is stored moves to the new one, with its approvals; one whose
//! stored hash matches neither is left alone, so a payload changed behind
//! Belay's back still fails its claim. Idempotent: runs at every start.

use super::submission::{stored_payload_hash, StoredPayload};
use crate::db::Db;
use crate::error::AppError;
use sqlx::Row;

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
        let new = stored_payload_hash(&mut tx, &id, None).await?;
        if new == old || legacy_hash(&mut tx, &id).await? != old {
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
async fn legacy_hash(tx: &mut crate::db::Tx<'_>, id: &str) -> Result<String, AppError> {
    let mut p = StoredPayload::read(tx, id).await?;
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
    Ok(crate::evidence::parse::sha256_hex(text.as_bytes()))
}
