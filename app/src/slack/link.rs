//! Linking a Belay person to their Slack user. The person makes a one-time
//! code on `/account` (signed in: it is them) and types `/belay link CODE`
//! in Slack; Slack signs that command with the user who typed it, so the
//! link proves both ends. Codes are stored hashed and last ten minutes.

use crate::audit::{self, Actor};
use crate::auth::UserView;
use crate::db::{now_ms, rfc3339, Db};
use crate::error::AppError;
use sha2::{Digest, Sha256};
use sqlx::Row;

const CODE_TTL_MS: i64 = 10 * 60 * 1000;
/// No 0/O or 1/I: the code is read off one screen and typed into another.
const ALPHABET: &[u8; 32] = b"ABCDEFGHJKLMNPQRSTUVWXYZ23456789";
/// 10 characters: 50 bits, against guessing within a code's ten minutes.
const CODE_LEN: usize = 10;

fn hash(code: &str) -> String {
    let clean: String = code
        .chars()
        .filter(|c| c.is_ascii_alphanumeric())
        .map(|c| c.to_ascii_uppercase())
        .collect();
    crate::text::hex(&Sha256::digest(clean.as_bytes()))
}

/// The person's link: (team id, Slack user id, linked at).
pub async fn of(db: &Db, user_id: &str) -> Result<Option<(String, String, String)>, AppError> {
    sqlx::query("SELECT team_id, slack_user_id, linked_at FROM slack_links WHERE user_id = $1")
        .bind(user_id)
        .fetch_optional(db)
        .await?
        .map(|r| {
            Ok((
                r.try_get("team_id")?,
                r.try_get("slack_user_id")?,
                rfc3339(r.try_get("linked_at")?),
            ))
        })
        .transpose()
}

/// The Belay person linked to this Slack user, if any.
pub async fn person_of(
    db: &Db,
    team_id: &str,
    slack_user: &str,
) -> Result<Option<String>, AppError> {
    sqlx::query("SELECT user_id FROM slack_links WHERE team_id = $1 AND slack_user_id = $2")
        .bind(team_id)
        .bind(slack_user)
        .fetch_optional(db)
        .await?
        .map(|r| r.try_get("user_id").map_err(AppError::from))
        .transpose()
}

/// A new code for `me` (any earlier one stops working), shown once.
pub async fn start(db: &Db, me: &UserView) -> Result<String, AppError> {
    let code: String = {
        use rand::Rng;
        let mut rng = rand::thread_rng();
        (0..CODE_LEN)
            .map(|_| char::from(ALPHABET[rng.gen_range(0..ALPHABET.len())]))
            .collect()
    };
    let mut tx = db.begin().await?;
    sqlx::query("DELETE FROM slack_link_codes WHERE user_id = $1")
        .bind(&me.id)
        .execute(&mut *tx)
        .await?;
    sqlx::query(
        "INSERT INTO slack_link_codes (code_hash, user_id, expires_at) VALUES ($1, $2, $3)",
    )
    .bind(hash(&code))
    .bind(&me.id)
    .bind(now_ms() + CODE_TTL_MS)
    .execute(&mut *tx)
    .await?;
    audit::record(
        &mut tx,
        audit::Event {
            actor: &Actor::User(me.id.clone()),
            what: "slack.link_code_made",
            subject_kind: "user",
            subject_id: &me.id,
            detail: serde_json::json!({ "after": { "expires_in_minutes": CODE_TTL_MS / 60_000 } }),
        },
    )
    .await?;
    tx.commit().await?;
    Ok(code)
}

/// Links the Slack user who typed `code` to the code's person, replacing
/// whatever either was linked to before; answers the person's username.
pub async fn redeem(
    db: &Db,
    team_id: &str,
    slack_user: &str,
    code: &str,
) -> Result<String, AppError> {
    let now = now_ms();
    let mut tx = crate::db::begin_write(db).await?;
    let found = sqlx::query(
        "SELECT c.user_id, u.username FROM slack_link_codes c JOIN users u ON u.id = c.user_id \
         WHERE c.code_hash = $1 AND c.expires_at > $2 AND u.active = 1",
    )
    .bind(hash(code))
    .bind(now)
    .fetch_optional(&mut *tx)
    .await?;
    let Some(found) = found else {
        return Err(AppError::NotFound(
            "that code is unknown or expired: make a new one on your Belay account page".into(),
        ));
    };
    let (user_id, username): (String, String) =
        (found.try_get("user_id")?, found.try_get("username")?);
    // Used once: of two redemptions at once, one deletes it.
    let used = sqlx::query("DELETE FROM slack_link_codes WHERE user_id = $1 AND code_hash = $2")
        .bind(&user_id)
        .bind(hash(code))
        .execute(&mut *tx)
        .await?
        .rows_affected();
    if used != 1 {
        return Err(AppError::Conflict("that code was just used".into()));
    }
    sqlx::query(
        "DELETE FROM slack_links WHERE user_id = $1 OR (team_id = $2 AND slack_user_id = $3)",
    )
    .bind(&user_id)
    .bind(team_id)
    .bind(slack_user)
    .execute(&mut *tx)
    .await?;
    sqlx::query(
        "INSERT INTO slack_links (team_id, slack_user_id, user_id, linked_at) VALUES ($1, $2, $3, $4)",
    )
    .bind(team_id)
    .bind(slack_user)
    .bind(&user_id)
    .bind(now)
    .execute(&mut *tx)
    .await?;
    audit::record(
        &mut tx,
        audit::Event {
            actor: &Actor::User(user_id.clone()),
            what: "slack.linked",
            subject_kind: "user",
            subject_id: &user_id,
            detail: serde_json::json!({ "after": { "team_id": team_id, "slack_user_id": slack_user } }),
        },
    )
    .await?;
    tx.commit().await?;
    tracing::info!(user = %username, "Slack user linked");
    Ok(username)
}

pub async fn unlink(db: &Db, me: &UserView) -> Result<(), AppError> {
    let mut tx = db.begin().await?;
    let gone = sqlx::query("DELETE FROM slack_links WHERE user_id = $1")
        .bind(&me.id)
        .execute(&mut *tx)
        .await?
        .rows_affected();
    if gone == 0 {
        return Err(AppError::NotFound(
            "your account is not linked to Slack".into(),
        ));
    }
    audit::record(
        &mut tx,
        audit::Event {
            actor: &Actor::User(me.id.clone()),
            what: "slack.unlinked",
            subject_kind: "user",
            subject_id: &me.id,
            detail: serde_json::json!({ "after": null }),
        },
    )
    .await?;
    tx.commit().await?;
    Ok(())
}
