//! Reading stored evidence.

use super::{EvidenceText, MAX_TEXT};
use crate::db::{known_id, Db};
use crate::error::AppError;
use sqlx::Row;

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
