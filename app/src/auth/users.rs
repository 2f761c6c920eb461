//! People who sign in to Belay.

use super::{password, Role, UserView};
use crate::audit::{self, Actor};
use crate::db::{new_id, now_ms, Db};
use crate::error::{stored, AppError};
use sqlx::Row;

/// A handle (usernames, agent names): 2–64 characters of letters, digits,
/// `.`, `_` or `-`, so it is safe in URLs, logs and command lines.
pub fn parse_handle(raw: &str, what: &str) -> Result<String, AppError> {
    let name = raw.trim();
    let valid = (2..=64).contains(&name.len())
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-'));
    if valid {
        Ok(name.to_string())
    } else {
        Err(AppError::validation(format!(
            "{what} are 2 to 64 characters: letters, digits, '.', '_' or '-'"
        )))
    }
}

pub fn parse_username(raw: &str) -> Result<String, AppError> {
    parse_handle(raw, "usernames")
}

#[tracing::instrument(skip(db, password), fields(username = %username, role = %role))]
pub async fn create(
    db: &Db,
    actor: &Actor,
    username: &str,
    role: Role,
    password: String,
) -> Result<UserView, AppError> {
    let username = parse_username(username)?;
    password::check_strength(&password)?;
    let hash = password::hash(password).await?;
    let id = new_id();
    let mut tx = db.begin().await?;
    let inserted = sqlx::query(
        "INSERT INTO users (id, username, password_hash, role, active, created_at) \
         VALUES ($1, $2, $3, $4, 1, $5)",
    )
    .bind(&id)
    .bind(&username)
    .bind(&hash)
    .bind(role.as_str())
    .bind(now_ms())
    .execute(&mut *tx)
    .await;
    crate::db::first_of_its_kind(inserted, || {
        AppError::Conflict(format!("user {username:?} already exists"))
    })?;
    audit::record(
        &mut tx,
        audit::Event {
            actor,
            what: "user.created",
            subject_kind: "user",
            subject_id: &id,
            detail: serde_json::json!({ "after": { "username": username, "role": role } }),
        },
    )
    .await?;
    tx.commit().await?;
    Ok(UserView { id, username, role })
}

/// A user with their password hash, for sign-in only.
pub struct Credentials {
    pub user: UserView,
    pub password_hash: String,
}

pub async fn credentials(db: &Db, username: &str) -> Result<Option<Credentials>, AppError> {
    let row = sqlx::query(
        "SELECT id, username, role, password_hash FROM users WHERE username = $1 AND active = 1",
    )
    .bind(username)
    .fetch_optional(db)
    .await?;
    row.map(|r| {
        Ok(Credentials {
            user: user_from_row(&r)?,
            password_hash: r.try_get("password_hash")?,
        })
    })
    .transpose()
}

/// An active person and the moment before which their sessions are void.
pub async fn find_for_session(db: &Db, id: &str) -> Result<Option<(UserView, i64)>, AppError> {
    let row = sqlx::query(
        "SELECT id, username, role, sessions_after FROM users WHERE id = $1 AND active = 1",
    )
    .bind(id)
    .fetch_optional(db)
    .await?;
    row.map(|r| Ok((user_from_row(&r)?, r.try_get("sessions_after")?)))
        .transpose()
}

pub async fn find_by_username(db: &Db, username: &str) -> Result<Option<UserView>, AppError> {
    let row =
        sqlx::query("SELECT id, username, role FROM users WHERE username = $1 AND active = 1")
            .bind(username)
            .fetch_optional(db)
            .await?;
    row.map(|r| user_from_row(&r)).transpose()
}

pub async fn count(db: &Db) -> Result<i64, AppError> {
    let row = sqlx::query("SELECT COUNT(*) AS n FROM users")
        .fetch_one(db)
        .await?;
    Ok(row.try_get("n")?)
}

pub async fn list_usernames(db: &Db) -> Result<Vec<String>, AppError> {
    let rows = sqlx::query("SELECT username FROM users WHERE active = 1 ORDER BY username")
        .fetch_all(db)
        .await?;
    rows.iter().map(|r| Ok(r.try_get("username")?)).collect()
}

fn user_from_row(r: &sqlx::any::AnyRow) -> Result<UserView, AppError> {
    let role: String = r.try_get("role")?;
    Ok(UserView {
        id: r.try_get("id")?,
        username: r.try_get("username")?,
        role: stored(Role::parse(&role))?,
    })
}

/// Signing in and out, in the audit trail: who, or (refused) which name
/// was tried.
pub async fn audit_session(
    db: &Db,
    what: &'static str,
    user_id: Option<&str>,
    tried: &str,
) -> Result<(), AppError> {
    // Whatever was typed, stored safely: no control characters (PostgreSQL
    // refuses NUL), at most 100 characters.
    let tried: String = tried
        .trim()
        .chars()
        .filter(|c| !c.is_control())
        .take(100)
        .collect();
    let actor = match user_id {
        Some(id) => Actor::User(id.to_string()),
        None => Actor::System,
    };
    let mut tx = db.begin().await?;
    audit::record(
        &mut tx,
        audit::Event {
            actor: &actor,
            what,
            subject_kind: "user",
            subject_id: user_id.unwrap_or(&tried),
            detail: serde_json::json!({ "username": tried }),
        },
    )
    .await?;
    tx.commit().await?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::parse_username;

    #[test]
    fn usernames_are_parsed_at_the_edge() {
        assert_eq!(parse_username("  alice ").unwrap(), "alice");
        assert!(parse_username("a").is_err());
        assert!(parse_username("bob smith").is_err());
        assert!(parse_username("<script>").is_err());
        assert!(parse_username(&"x".repeat(65)).is_err());
    }
}
