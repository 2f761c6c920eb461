//! Stored evidence: written with its request (or its outcome), listed,
//! hashed into the payload a reviewer approves, and read back.

use super::parse::Evidence;
use super::{EvidenceInfo, EvidenceText, MAX_TEXT};
use crate::db::{known_id, Db, Tx};
use crate::error::AppError;
use sqlx::Row;

/// Stores pieces of evidence for one request, each under the id given.
/// `phase` is `request` (what reviewers approve) or `outcome`.
pub async fn insert(
    tx: &mut Tx<'_>,
    action_id: &str,
    phase: &str,
    pieces: &[(&str, &Evidence)],
    now: i64,
) -> Result<(), AppError> {
    for (id, e) in pieces {
        sqlx::query(
            "INSERT INTO evidence (id, action_id, kind, media_type, size_bytes, sha256, content, created_at, phase) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)",
        )
        .bind(*id)
        .bind(action_id)
        .bind(e.kind)
        .bind(&e.media_type)
        .bind(e.content.len() as i64)
        .bind(&e.sha256)
        .bind(e.content.clone())
        .bind(now)
        .bind(phase)
        .execute(&mut **tx)
        .await?;
    }
    Ok(())
}

/// How many pieces a request holds, and their bytes in all.
pub async fn held(tx: &mut Tx<'_>, action_id: &str) -> Result<(usize, usize), AppError> {
    // SUM over BIGINT is NUMERIC on PostgreSQL; the cast keeps it an i64.
    let r = sqlx::query(
        "SELECT COUNT(*) AS n, CAST(COALESCE(SUM(size_bytes), 0) AS BIGINT) AS bytes \
         FROM evidence WHERE action_id = $1",
    )
    .bind(action_id)
    .fetch_one(&mut **tx)
    .await?;
    let (n, bytes): (i64, i64) = (r.try_get("n")?, r.try_get("bytes")?);
    Ok((n as usize, bytes as usize))
}

/// Every piece a request holds, described, in the order it arrived.
pub async fn list(db: &Db, action_id: &str) -> Result<Vec<EvidenceInfo>, AppError> {
    sqlx::query(
        "SELECT id, kind, media_type, size_bytes, sha256, phase FROM evidence WHERE action_id = $1 ORDER BY id",
    )
    .bind(action_id)
    .fetch_all(db)
    .await?
    .iter()
    .map(info)
    .collect()
}

/// The reviewed evidence of several requests at once (a queue page), as
/// (request id, piece), each request's pieces in the order they arrived.
pub async fn reviewed_of(
    db: &Db,
    action_ids: &[String],
) -> Result<Vec<(String, EvidenceInfo)>, AppError> {
    if action_ids.is_empty() {
        return Ok(vec![]);
    }
    let marks = (1..=action_ids.len())
        .map(|i| format!("${i}"))
        .collect::<Vec<_>>()
        .join(", ");
    let sql = format!(
        "SELECT action_id, id, kind, media_type, size_bytes, sha256, phase FROM evidence \
         WHERE phase = 'request' AND action_id IN ({marks}) ORDER BY action_id, id"
    );
    let mut query = sqlx::query(&sql);
    for id in action_ids {
        query = query.bind(id);
    }
    query
        .fetch_all(db)
        .await?
        .iter()
        .map(|e| Ok((e.try_get("action_id")?, info(e)?)))
        .collect()
}

fn info(e: &sqlx::any::AnyRow) -> Result<EvidenceInfo, AppError> {
    Ok(EvidenceInfo {
        id: e.try_get("id")?,
        kind: e.try_get("kind")?,
        media_type: e.try_get("media_type")?,
        size_bytes: e.try_get("size_bytes")?,
        sha256: e.try_get("sha256")?,
        phase: e.try_get("phase")?,
    })
}

/// A request's reviewed evidence as (type, media type, SHA-256), in order:
/// what its payload hash covers.
pub async fn reviewed(
    tx: &mut Tx<'_>,
    action_id: &str,
) -> Result<Vec<(String, String, String)>, AppError> {
    sqlx::query(
        "SELECT kind, media_type, sha256 FROM evidence \
         WHERE action_id = $1 AND phase = 'request' ORDER BY id",
    )
    .bind(action_id)
    .fetch_all(&mut **tx)
    .await?
    .iter()
    .map(|r| {
        Ok((
            r.try_get("kind")?,
            r.try_get("media_type")?,
            r.try_get("sha256")?,
        ))
    })
    .collect()
}

/// A stored piece: (type, media type, bytes).
pub async fn raw(db: &Db, id: &str) -> Result<(String, String, Vec<u8>), AppError> {
    known_id(id, "evidence")?;
    let r = sqlx::query("SELECT kind, media_type, content FROM evidence WHERE id = $1")
        .bind(id)
        .fetch_optional(db)
        .await?
        .ok_or_else(|| AppError::NotFound("no such evidence".into()))?;
    Ok((
        r.try_get("kind")?,
        r.try_get("media_type")?,
        r.try_get("content")?,
    ))
}

/// A text piece for the viewer; images are shown from their raw bytes.
pub async fn text(db: &Db, id: &str) -> Result<EvidenceText, AppError> {
    let (kind, media_type, content) = raw(db, id).await?;
    if kind == "screenshot" {
        return Err(AppError::validation(
            "a screenshot is an image; open it from its raw link",
        ));
    }
    let truncated = content.len() > MAX_TEXT;
    let mut end = content.len().min(MAX_TEXT);
    // Cut on a character boundary.
    while end > 0 && std::str::from_utf8(&content[..end]).is_err() {
        end -= 1;
    }
    let text = String::from_utf8_lossy(&content[..end]).into_owned();
    let html =
        matches!(kind.as_str(), "plan" | "prompt").then(|| super::markdown::to_safe_html(&text));
    Ok(EvidenceText {
        kind,
        media_type,
        text,
        html,
        truncated,
    })
}
