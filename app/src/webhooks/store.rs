//! Webhook endpoints: the one owner of their rows. Every change is
//! audited in its transaction, bumps the policy epoch (so every replica
//! hears of it and reloads its subscription mask, see `outbox.rs`), and
//! never puts the secret in the audit or a log.
//!
//! The secret is stored as it is, not hashed as Belay's other secrets
//! are: signing a delivery needs the key itself (HMAC), and a hash could
//! only check a secret, never sign with it. It is shown once, at creation
//! or rotation; the pages never read it back.

use super::events::{self, EventType};
use super::{outbox, EndpointRow};
use crate::audit::{self, Actor};
use crate::db::{known_id, new_id, now_ms, Db, Tx};
use crate::error::AppError;
use axum::http::Uri;
use base64::Engine;
use sqlx::Row;

const MAX_URL_BYTES: usize = 2000;

/// An endpoint's URL: `http://` or `https://`, a host, no credentials.
/// Where it points is not checked (see the README on SSRF): an admin sets
/// it, and a receiver on the same network is a common, wanted setup.
pub fn parse_url(raw: &str) -> Result<String, AppError> {
    let raw = raw.trim();
    let bad = |why: &str| AppError::validation(format!("the endpoint URL {why}"));
    if raw.len() > MAX_URL_BYTES {
        return Err(bad(&format!("is longer than {MAX_URL_BYTES} bytes")));
    }
    let uri: Uri = raw.parse().map_err(|_| bad("is not a valid URL"))?;
    if !matches!(uri.scheme_str(), Some("http" | "https")) {
        return Err(bad("must start with http:// or https://"));
    }
    let Some(authority) = uri.authority() else {
        return Err(bad("has no host"));
    };
    if authority.as_str().contains('@') {
        return Err(bad("must not hold credentials"));
    }
    if authority.host().is_empty() {
        return Err(bad("has no host"));
    }
    Ok(raw.to_string())
}

/// A fresh signing secret: `whsec_` and 32 random bytes in base64, as the
/// Standard Webhooks specification writes them.
fn new_secret() -> String {
    let bytes: [u8; 32] = rand::random();
    format!(
        "whsec_{}",
        base64::engine::general_purpose::STANDARD.encode(bytes)
    )
}

pub struct NewEndpoint {
    pub url: String,
    pub description: String,
    pub types: Vec<EventType>,
}

/// Registers an endpoint; answers its id and its secret (shown once).
pub async fn create(
    db: &Db,
    admin: &Actor,
    new: NewEndpoint,
) -> Result<(String, String), AppError> {
    if new.types.is_empty() {
        return Err(AppError::validation("choose at least one event type"));
    }
    let (id, secret) = (new_id(), new_secret());
    let mut tx = begin(db).await?;
    sqlx::query(
        "INSERT INTO webhook_endpoints (id, url, description, event_types, secret, enabled, created_by, created_at) \
         VALUES ($1, $2, $3, $4, $5, 1, $6, $7)",
    )
    .bind(&id)
    .bind(&new.url)
    .bind(&new.description)
    .bind(events::join(&new.types))
    .bind(&secret)
    .bind(actor_name(admin))
    .bind(now_ms())
    .execute(&mut *tx)
    .await?;
    let detail = serde_json::json!({ "after": {
        "url": new.url, "description": new.description, "event_types": events::join(&new.types),
    }});
    finish(db, tx, admin, "webhook.created", &id, detail).await?;
    Ok((id, secret))
}

pub async fn set_enabled(db: &Db, admin: &Actor, id: &str, on: bool) -> Result<(), AppError> {
    let mut tx = begin(db).await?;
    let moved =
        sqlx::query("UPDATE webhook_endpoints SET enabled = $1 WHERE id = $2 AND enabled = $3")
            .bind(i64::from(on))
            .bind(id)
            .bind(i64::from(!on))
            .execute(&mut *tx)
            .await?
            .rows_affected();
    if moved != 1 {
        exists(&mut tx, id).await?;
        return Err(AppError::Conflict(format!(
            "this endpoint is already {}",
            if on { "enabled" } else { "disabled" }
        )));
    }
    let what = if on {
        "webhook.enabled"
    } else {
        "webhook.disabled"
    };
    let detail = serde_json::json!({ "before": { "enabled": !on }, "after": { "enabled": on } });
    finish(db, tx, admin, what, id, detail).await
}

/// A new secret; the old one stops signing at once.
pub async fn rotate(db: &Db, admin: &Actor, id: &str) -> Result<String, AppError> {
    let secret = new_secret();
    let mut tx = begin(db).await?;
    let moved = sqlx::query("UPDATE webhook_endpoints SET secret = $1 WHERE id = $2")
        .bind(&secret)
        .bind(id)
        .execute(&mut *tx)
        .await?
        .rows_affected();
    if moved != 1 {
        return Err(AppError::NotFound("no such webhook endpoint".into()));
    }
    let detail = serde_json::json!({ "after": { "secret": "rotated" } });
    finish(db, tx, admin, "webhook.secret_rotated", id, detail).await?;
    Ok(secret)
}

/// Removes the endpoint with its deliveries and their attempts (the audit
/// keeps that it existed).
pub async fn delete(db: &Db, admin: &Actor, id: &str) -> Result<(), AppError> {
    let mut tx = begin(db).await?;
    let url = exists(&mut tx, id).await?;
    sqlx::query(
        "DELETE FROM webhook_attempts WHERE delivery_id IN \
         (SELECT id FROM webhook_deliveries WHERE endpoint_id = $1)",
    )
    .bind(id)
    .execute(&mut *tx)
    .await?;
    let dropped = sqlx::query("DELETE FROM webhook_deliveries WHERE endpoint_id = $1")
        .bind(id)
        .execute(&mut *tx)
        .await?
        .rows_affected();
    sqlx::query("DELETE FROM webhook_endpoints WHERE id = $1")
        .bind(id)
        .execute(&mut *tx)
        .await?;
    let detail = serde_json::json!({ "before": { "url": url, "deliveries": dropped } });
    finish(db, tx, admin, "webhook.deleted", id, detail).await
}

pub async fn list(db: &Db) -> Result<Vec<EndpointRow>, AppError> {
    sqlx::query(
        "SELECT e.id, e.url, e.description, e.event_types, e.enabled, e.created_at, \
           (SELECT COUNT(*) FROM webhook_deliveries d WHERE d.endpoint_id = e.id AND d.state = 'pending') AS pending, \
           (SELECT COUNT(*) FROM webhook_deliveries d WHERE d.endpoint_id = e.id AND d.state = 'failed') AS failed \
         FROM webhook_endpoints e ORDER BY e.created_at",
    )
    .fetch_all(db)
    .await?
    .iter()
    .map(|r| {
        let types: String = r.try_get("event_types")?;
        Ok(EndpointRow {
            id: r.try_get("id")?,
            url: r.try_get("url")?,
            description: r.try_get("description")?,
            event_types: events::split(&types),
            enabled: r.try_get::<i64, _>("enabled")? == 1,
            created_at: crate::clock::display(r.try_get("created_at")?),
            pending: r.try_get("pending")?,
            failed: r.try_get("failed")?,
        })
    })
    .collect()
}

/// The endpoint's URL; 404 if there is none.
async fn exists(tx: &mut Tx<'_>, id: &str) -> Result<String, AppError> {
    sqlx::query("SELECT url FROM webhook_endpoints WHERE id = $1")
        .bind(id)
        .fetch_optional(&mut **tx)
        .await?
        .map(|r| r.try_get("url"))
        .transpose()?
        .ok_or_else(|| AppError::NotFound("no such webhook endpoint".into()))
}

fn actor_name(actor: &Actor) -> String {
    match actor {
        Actor::User(id) => id.clone(),
        Actor::Operator(login) => format!("operator:{login}"),
        Actor::Agent(id) => format!("agent:{id}"),
        Actor::System => "system".into(),
    }
}

/// The policy lock first, as every change that bumps the epoch takes it.
async fn begin(db: &Db) -> Result<Tx<'static>, AppError> {
    let mut tx = db.begin().await?;
    crate::policy::store::bump_epoch(&mut tx).await?;
    Ok(tx)
}

/// Audits, commits, and reloads the subscription mask: "everything"
/// from before the commit until the reload, so no event committed
/// meanwhile is skipped.
async fn finish(
    db: &Db,
    mut tx: Tx<'_>,
    admin: &Actor,
    what: &str,
    id: &str,
    detail: serde_json::Value,
) -> Result<(), AppError> {
    audit::record(
        &mut tx,
        audit::Event {
            actor: admin,
            what,
            subject_kind: "webhook_endpoint",
            subject_id: id,
            detail,
        },
    )
    .await?;
    outbox::unsure(db);
    let committed = tx.commit().await;
    if let Err(e) = outbox::reload(db).await {
        tracing::warn!(error = %e, "cannot reload the webhook subscriptions; every batch asks the database until the next reload");
    }
    committed?;
    tracing::info!(endpoint_id = %id, what, "webhook endpoint changed");
    Ok(())
}

pub fn check_id(id: &str) -> Result<(), AppError> {
    known_id(id, "webhook endpoint")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_plain_http_and_https_urls_are_taken() {
        assert!(parse_url("https://hooks.example.com/belay").is_ok());
        assert!(parse_url(" http://10.0.0.5:8080/in ").is_ok());
        for bad in [
            "ftp://x/y",
            "file:///etc/passwd",
            "javascript:alert(1)",
            "https://u:p@x/",
            "/relative",
            "",
        ] {
            assert!(parse_url(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn secrets_follow_the_spec() {
        let s = new_secret();
        let key = s.strip_prefix("whsec_").unwrap();
        let bytes = base64::engine::general_purpose::STANDARD
            .decode(key)
            .unwrap();
        assert_eq!(bytes.len(), 32);
        assert_ne!(s, new_secret());
    }
}
