//! The `personal_tokens` table: made, listed and revoked by their person,
//! and checked on every reviewer API call. Owns every query on the table.

use super::{secret, IssuedToken, Scope, TokenRow};
use crate::audit::{self, Actor};
use crate::auth::{Role, UserView};
use crate::clock::display;
use crate::db::{known_id, new_id, now_ms, Db, Tx};
use crate::error::{stored, AppError};
use sqlx::Row;

/// Live tokens one person may hold at once: enough for every tool they
/// use, few enough that nobody collects them.
pub const MAX_LIVE: i64 = 20;
/// A token's last use is written at most this often (a busy script would
/// otherwise write on every read).
const LAST_USED_EVERY_MS: i64 = 60_000;
const DAY_MS: i64 = 86_400_000;

#[tracing::instrument(skip(db, me, name), fields(user = %me.username, scope = scope.as_str()))]
pub async fn create(
    db: &Db,
    me: &UserView,
    name: &str,
    scope: Scope,
    days: u32,
) -> Result<IssuedToken, AppError> {
    let name = crate::text::field("the token's name", name, 100)?;
    if scope == Scope::Decide && !me.role.can_decide_actions() {
        return Err(AppError::validation(format!(
            "your role ({}) does not decide anything: make a read token",
            me.role
        )));
    }
    let now = now_ms();
    let expires_at = now + i64::from(days) * DAY_MS;
    let token = secret::generate();
    let id = new_id();
    let mut tx = crate::db::begin_write(db).await?;
    let live: i64 = sqlx::query(
        "SELECT COUNT(*) AS n FROM personal_tokens \
         WHERE user_id = $1 AND revoked_at IS NULL AND expires_at > $2",
    )
    .bind(&me.id)
    .bind(now)
    .fetch_one(&mut *tx)
    .await?
    .try_get("n")?;
    if live >= MAX_LIVE {
        return Err(AppError::Conflict(format!(
            "you already have {MAX_LIVE} live tokens: revoke one you no longer use"
        )));
    }
    sqlx::query(
        "INSERT INTO personal_tokens (id, user_id, name, scope, prefix, token_hash, created_at, expires_at) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
    )
    .bind(&id)
    .bind(&me.id)
    .bind(&name)
    .bind(scope.as_str())
    .bind(&token.prefix)
    .bind(&token.hash)
    .bind(now)
    .bind(expires_at)
    .execute(&mut *tx)
    .await?;
    let detail = serde_json::json!({ "after": {
        "name": name, "scope": scope, "prefix": token.prefix, "expires_at": expires_at,
    } });
    record(&mut tx, &me.id, "token.created", &id, detail).await?;
    tx.commit().await?;
    Ok(IssuedToken {
        id,
        prefix: token.prefix,
        secret: token.secret,
        expires_at: display(expires_at),
    })
}

/// The person's tokens, newest first.
pub async fn list(db: &Db, me: &UserView) -> Result<Vec<TokenRow>, AppError> {
    let now = now_ms();
    sqlx::query(
        "SELECT t.id, t.name, t.scope, t.prefix, t.created_at, t.expires_at, t.revoked_at, \
                t.last_used_at, u.sessions_after \
         FROM personal_tokens t JOIN users u ON u.id = t.user_id \
         WHERE t.user_id = $1 ORDER BY t.created_at DESC, t.id",
    )
    .bind(&me.id)
    .fetch_all(db)
    .await?
    .iter()
    .map(|r| {
        let created_at: i64 = r.try_get("created_at")?;
        let expires_at: i64 = r.try_get("expires_at")?;
        let revoked_at: Option<i64> = r.try_get("revoked_at")?;
        let ended = created_at < r.try_get::<i64, _>("sessions_after")?;
        let status = if revoked_at.is_some() {
            "revoked"
        } else if ended {
            "ended"
        } else if expires_at <= now {
            "expired"
        } else {
            "active"
        };
        Ok(TokenRow {
            id: r.try_get("id")?,
            name: r.try_get("name")?,
            scope: stored(Scope::parse(&r.try_get::<String, _>("scope")?))?,
            prefix: r.try_get("prefix")?,
            created_at: display(created_at),
            expires_at: display(expires_at),
            last_used_at: r.try_get::<Option<i64>, _>("last_used_at")?.map(display),
            status: status.into(),
        })
    })
    .collect()
}

/// Revokes one of the person's own tokens (someone else's is 404, as if it
/// did not exist); revoking twice is a conflict.
#[tracing::instrument(skip(db, me), fields(user = %me.username))]
pub async fn revoke(db: &Db, me: &UserView, id: &str) -> Result<(), AppError> {
    known_id(id, "token")?;
    let mut tx = db.begin().await?;
    let done = sqlx::query(
        "UPDATE personal_tokens SET revoked_at = $1 \
         WHERE id = $2 AND user_id = $3 AND revoked_at IS NULL",
    )
    .bind(now_ms())
    .bind(id)
    .bind(&me.id)
    .execute(&mut *tx)
    .await?;
    if done.rows_affected() != 1 {
        let mine =
            sqlx::query("SELECT 1 AS one FROM personal_tokens WHERE id = $1 AND user_id = $2")
                .bind(id)
                .bind(&me.id)
                .fetch_optional(&mut *tx)
                .await?
                .is_some();
        return Err(if mine {
            AppError::Conflict("this token is already revoked".into())
        } else {
            AppError::NotFound("no such token".into())
        });
    }
    let detail = serde_json::json!({ "after": { "revoked": true } });
    record(&mut tx, &me.id, "token.revoked", id, detail).await?;
    tx.commit().await?;
    Ok(())
}

async fn record(
    tx: &mut Tx<'_>,
    user_id: &str,
    what: &str,
    id: &str,
    detail: serde_json::Value,
) -> Result<(), AppError> {
    audit::record(
        tx,
        audit::Event {
            actor: &Actor::User(user_id.to_string()),
            what,
            subject_kind: "personal_token",
            subject_id: id,
            detail,
        },
    )
    .await
}

/// Who a presented token acts for, and how far.
#[derive(Debug, Clone)]
pub struct Bearer {
    /// The person as they are now (their current role).
    pub user: UserView,
    pub scope: Scope,
    pub token_id: String,
}

/// Checks a presented token: unknown, malformed, revoked, expired, ended by
/// a password change, or a deactivated person's, it is 401.
pub async fn authenticate(db: &Db, presented: &str) -> Result<Bearer, AppError> {
    let refused = |why: &str| AppError::Unauthorized(why.to_string());
    if !secret::well_formed(presented) {
        return Err(refused("the token is not valid"));
    }
    let row = sqlx::query(
        "SELECT t.id, t.scope, t.created_at, t.expires_at, t.revoked_at, t.last_used_at, \
                u.id AS user_id, u.username, u.role, u.active, u.sessions_after \
         FROM personal_tokens t JOIN users u ON u.id = t.user_id WHERE t.token_hash = $1",
    )
    .bind(secret::hash(presented))
    .fetch_optional(db)
    .await?
    .ok_or_else(|| refused("the token is not valid"))?;
    let now = now_ms();
    if row.try_get::<Option<i64>, _>("revoked_at")?.is_some() {
        return Err(refused("the token is revoked"));
    }
    if row.try_get::<i64, _>("expires_at")? <= now {
        return Err(refused("the token has expired"));
    }
    if row.try_get::<i64, _>("active")? == 0 {
        return Err(refused("the token's person is deactivated"));
    }
    if row.try_get::<i64, _>("created_at")? < row.try_get::<i64, _>("sessions_after")? {
        return Err(refused(
            "the token ended when its person's password changed",
        ));
    }
    let token_id: String = row.try_get("id")?;
    let last: Option<i64> = row.try_get("last_used_at")?;
    if last.is_none_or(|at| now - at >= LAST_USED_EVERY_MS) {
        sqlx::query("UPDATE personal_tokens SET last_used_at = $1 WHERE id = $2")
            .bind(now)
            .bind(&token_id)
            .execute(db)
            .await?;
    }
    Ok(Bearer {
        user: UserView {
            id: row.try_get("user_id")?,
            username: row.try_get("username")?,
            role: stored(Role::parse(&row.try_get::<String, _>("role")?))?,
        },
        scope: stored(Scope::parse(&row.try_get::<String, _>("scope")?))?,
        token_id,
    })
}
