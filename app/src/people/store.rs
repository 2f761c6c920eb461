//! Accounts in the database. Every change is audited; none may leave the
//! installation without an active admin.

use super::PersonRow;
use crate::audit::{self, Actor};
use crate::auth::{password, Role, UserView};
use crate::db::{known_id, Db, Tx};
use crate::error::{stored, AppError};
use crate::state::AppState;
use sqlx::Row;

pub async fn list(db: &Db, viewer: &UserView) -> Result<Vec<PersonRow>, AppError> {
    sqlx::query("SELECT id, username, role, active, created_at FROM users ORDER BY username")
        .fetch_all(db)
        .await?
        .iter()
        .map(|r| {
            let id: String = r.try_get("id")?;
            Ok(PersonRow {
                you: id == viewer.id,
                id,
                username: r.try_get("username")?,
                role: stored(Role::parse(&r.try_get::<String, _>("role")?))?,
                active: r.try_get::<i64, _>("active")? != 0,
                created_at: crate::clock::display(r.try_get("created_at")?),
            })
        })
        .collect()
}

/// The account as it stands, read in the changing transaction.
async fn current(tx: &mut Tx<'_>, id: &str) -> Result<(String, Role, bool), AppError> {
    known_id(id, "person")?;
    let r = sqlx::query("SELECT username, role, active FROM users WHERE id = $1")
        .bind(id)
        .fetch_optional(&mut **tx)
        .await?
        .ok_or_else(|| AppError::NotFound("no such person".into()))?;
    Ok((
        r.try_get("username")?,
        stored(Role::parse(&r.try_get::<String, _>("role")?))?,
        r.try_get::<i64, _>("active")? != 0,
    ))
}

/// Refuses a change that would leave no active admin (nobody could manage
/// people again except from the server's shell).
async fn keeps_an_admin(tx: &mut Tx<'_>) -> Result<(), AppError> {
    let n: i64 = sqlx::query("SELECT COUNT(*) AS n FROM users WHERE role = 'admin' AND active = 1")
        .fetch_one(&mut **tx)
        .await?
        .try_get("n")?;
    if n == 0 {
        return Err(AppError::Conflict(
            "that would leave no active admin: make someone else admin first".into(),
        ));
    }
    Ok(())
}

async fn record(
    tx: &mut Tx<'_>,
    by: &Actor,
    what: &str,
    id: &str,
    detail: serde_json::Value,
) -> Result<(), AppError> {
    audit::record(
        tx,
        audit::Event {
            actor: by,
            what,
            subject_kind: "user",
            subject_id: id,
            detail,
        },
    )
    .await
}

/// The account id of `username`, active or not (for the CLI).
pub async fn id_of(db: &Db, username: &str) -> Result<String, AppError> {
    sqlx::query("SELECT id FROM users WHERE username = $1")
        .bind(username.trim())
        .fetch_optional(db)
        .await?
        .map(|r| r.try_get("id"))
        .transpose()?
        .ok_or_else(|| AppError::NotFound(format!("no person named {:?}", username.trim())))
}

pub async fn set_active(db: &Db, by: &Actor, id: &str, active: bool) -> Result<(), AppError> {
    if by.user_id() == Some(id) && !active {
        return Err(AppError::validation("you cannot deactivate yourself"));
    }
    let mut tx = db.begin().await?;
    // Serializes with every other change to people and trust.
    crate::policy::store::bump_epoch(&mut tx).await?;
    let (username, _, was) = current(&mut tx, id).await?;
    if was == active {
        return Err(AppError::Conflict(format!(
            "{username} is already {}",
            if active { "active" } else { "deactivated" }
        )));
    }
    sqlx::query("UPDATE users SET active = $1, sessions_after = $2 WHERE id = $3")
        .bind(i64::from(active))
        .bind(crate::db::now_ms())
        .bind(id)
        .execute(&mut *tx)
        .await?;
    keeps_an_admin(&mut tx).await?;
    let what = if active {
        "user.reactivated"
    } else {
        "user.deactivated"
    };
    let detail = serde_json::json!({ "username": username, "before": { "active": was }, "after": { "active": active } });
    record(&mut tx, by, what, id, detail).await?;
    tx.commit().await?;
    Ok(())
}

pub async fn set_role(db: &Db, by: &Actor, id: &str, role: Role) -> Result<(), AppError> {
    let mut tx = db.begin().await?;
    crate::policy::store::bump_epoch(&mut tx).await?;
    let (username, was, _) = current(&mut tx, id).await?;
    if was == role {
        return Err(AppError::Conflict(format!("{username} is already {role}")));
    }
    sqlx::query("UPDATE users SET role = $1 WHERE id = $2")
        .bind(role.as_str())
        .bind(id)
        .execute(&mut *tx)
        .await?;
    keeps_an_admin(&mut tx).await?;
    let detail = serde_json::json!({ "username": username, "before": { "role": was }, "after": { "role": role } });
    record(&mut tx, by, "user.role_changed", id, detail).await?;
    tx.commit().await?;
    Ok(())
}

/// A generated password, shown once; the old one stops working at once.
pub async fn reset_password(db: &Db, by: &Actor, id: &str) -> Result<String, AppError> {
    // Your own password changes only after giving the current one, so a
    // session left open cannot take over the account.
    if by.user_id() == Some(id) {
        return Err(AppError::validation(
            "change your own password on your account page, giving the current one",
        ));
    }
    let secret = password::generate();
    let hash = password::hash(secret.clone()).await?;
    let mut tx = db.begin().await?;
    let (username, _, _) = current(&mut tx, id).await?;
    write_hash(&mut tx, id, &hash).await?;
    record(
        &mut tx,
        by,
        "user.password_reset",
        id,
        serde_json::json!({ "username": username }),
    )
    .await?;
    tx.commit().await?;
    Ok(secret)
}

/// The signed-in person's own password, after the current one is checked
/// (under the same sign-in back-off and hashing bound as signing in).
pub async fn change_own_password(
    state: &AppState,
    me: &UserView,
    current_password: String,
    new: String,
) -> Result<(), AppError> {
    password::check_strength(&new)?;
    let keys = crate::auth::throttle::keys(&me.username, "account");
    state.sign_in.begin(&keys)?;
    let _slot = state.sign_in.hashing_slot().await?;
    let stored_hash = crate::auth::users::credentials(&state.db, &me.username)
        .await?
        .map(|c| c.password_hash);
    if !password::verify(current_password, stored_hash).await? {
        return Err(AppError::Forbidden("the current password is wrong".into()));
    }
    state.sign_in.succeeded(&keys);
    let hash = password::hash(new).await?;
    let mut tx = state.db.begin().await?;
    write_hash(&mut tx, &me.id, &hash).await?;
    record(
        &mut tx,
        &Actor::User(me.id.clone()),
        "user.password_changed",
        &me.id,
        serde_json::json!({ "username": me.username }),
    )
    .await?;
    tx.commit().await?;
    // This session goes on (signed in again, after the others ended).
    crate::auth::session::sign_in(me).await
}

async fn write_hash(tx: &mut Tx<'_>, id: &str, hash: &str) -> Result<(), AppError> {
    // Every session signed in with the old password ends.
    sqlx::query("UPDATE users SET password_hash = $1, sessions_after = $2 WHERE id = $3")
        .bind(hash)
        .bind(crate::db::now_ms())
        .bind(id)
        .execute(&mut **tx)
        .await?;
    Ok(())
}
