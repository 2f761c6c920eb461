//! `Idempotency-Key` on submit: an agent that retries (a timeout, a crash
//! between send and answer) gets the request it already made instead of a
//! second one. Keys are per agent and kept at least a day.

use crate::db::Tx;
use crate::error::AppError;
use crate::sql::Script;
use sqlx::Row;

/// How long a key is remembered. Agents retry within minutes; a day covers
/// an agent that restarts overnight.
pub const KEEP_MS: i64 = 24 * 60 * 60 * 1000;
/// Longest key accepted (Stripe and the IETF draft use UUIDs or similar).
pub const MAX_KEY_LEN: usize = 255;

/// Parses the header: 1–255 visible ASCII characters.
pub fn parse_key(raw: &[u8]) -> Result<String, AppError> {
    let ok = (1..=MAX_KEY_LEN).contains(&raw.len()) && raw.iter().all(|b| b.is_ascii_graphic());
    if !ok {
        return Err(AppError::BadRequest(format!(
            "Idempotency-Key must be 1 to {MAX_KEY_LEN} visible ASCII characters"
        )));
    }
    Ok(String::from_utf8_lossy(raw).into_owned())
}

pub struct NewKey {
    pub agent_id: String,
    pub key: String,
    /// The payload hash of the submission the key first came with.
    pub hash: String,
    pub action_id: String,
}

/// The hash and request an agent's key was first used with.
pub async fn find(
    tx: &mut Tx<'_>,
    agent_id: &str,
    key: &str,
) -> Result<Option<(String, String)>, AppError> {
    let row = sqlx::query(
        "SELECT request_hash, action_id FROM idempotency_keys WHERE agent_id = $1 AND idem_key = $2",
    )
    .bind(agent_id)
    .bind(key)
    .fetch_optional(&mut **tx)
    .await?;
    row.map(|r| Ok((r.try_get("request_hash")?, r.try_get("action_id")?)))
        .transpose()
}

/// Whether any of these (agent, key) pairs was used before: one query,
/// none when there are none.
pub async fn any_used(
    conn: &mut impl crate::db::OnDemand,
    keys: &[(&str, &str)],
) -> Result<bool, AppError> {
    if keys.is_empty() {
        return Ok(false);
    }
    let pairs: Vec<String> = (0..keys.len())
        .map(|i| format!("(agent_id = ${} AND idem_key = ${})", 2 * i + 1, 2 * i + 2))
        .collect();
    let sql = format!(
        "SELECT 1 AS used FROM idempotency_keys WHERE {} LIMIT 1",
        pairs.join(" OR ")
    );
    let mut query = sqlx::query(&sql);
    for (agent_id, key) in keys {
        query = query.bind(*agent_id).bind(*key);
    }
    Ok(query.fetch_optional(conn.conn().await?).await?.is_some())
}

/// Remembers the keys first used in a batch, as a part of the writer's
/// `script` (one multi-row INSERT per few dozen keys).
pub fn remember(script: &mut Script<'_>, keys: &[NewKey], now: i64) {
    for chunk in keys.chunks(64) {
        script.add(&format!(
            "INSERT INTO idempotency_keys (agent_id, idem_key, request_hash, action_id, created_at) \
             VALUES {}",
            crate::db::placeholders(chunk.len(), 5)
        ));
        for k in chunk {
            script
                .bind(k.agent_id.clone())
                .bind(k.key.clone())
                .bind(k.hash.clone())
                .bind(k.action_id.clone())
                .bind(now);
        }
    }
}

/// The same key with a different body is a client bug, never a new request.
pub fn reused() -> AppError {
    AppError::Validation(
        "this Idempotency-Key was already used with a different request; use a new key for a new request"
            .into(),
    )
}

/// Forgets keys older than `KEEP_MS`; the background sweep calls this.
pub async fn forget_old(db: &crate::db::Db, now: i64) -> Result<u64, AppError> {
    Ok(
        sqlx::query("DELETE FROM idempotency_keys WHERE created_at < $1")
            .bind(now - KEEP_MS)
            .execute(db)
            .await?
            .rows_affected(),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_are_visible_ascii_of_bounded_length() {
        assert_eq!(parse_key(b"retry-7f3a").unwrap(), "retry-7f3a");
        assert!(parse_key(b"").is_err());
        assert!(parse_key(b"has space").is_err());
        assert!(parse_key("ключ".as_bytes()).is_err());
        assert!(parse_key(&[b'k'; 256]).is_err());
        assert!(parse_key(&[b'k'; 255]).is_ok());
    }
}
