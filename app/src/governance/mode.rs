//! The one-person setting: a single-lead installation lets one person
//! raise trust alone. Only admins change it; each change is audited with
//! its reason, and every page shows a warning while it is on.

use crate::audit::{self, Actor};
use crate::auth::UserView;
use crate::db::{now_ms, Db};
use crate::error::AppError;

pub async fn load(db: &Db) -> Result<bool, AppError> {
    let mut conn = db.acquire().await?;
    crate::change::store::one_person(&mut conn).await
}

pub async fn set(db: &Db, admin: &UserView, on: bool, reason: &str) -> Result<(), AppError> {
    let reason = crate::text::field("the reason", reason, 4000)?;
    let mut tx = db.begin().await?;
    // The same lock as every edit and vote, so none straddles the switch.
    crate::policy::store::bump_epoch(&mut tx).await?;
    let before = crate::change::store::one_person(&mut tx).await?;
    if before == on {
        return Err(AppError::Conflict(format!(
            "one-person changes are already {}",
            if on { "allowed" } else { "off" }
        )));
    }
    sqlx::query("UPDATE trust_settings SET one_person_changes = $1, updated_by = $2, updated_at = $3 WHERE id = 1")
        .bind(i64::from(on))
        .bind(&admin.id)
        .bind(now_ms())
        .execute(&mut *tx)
        .await?;
    audit::record(
        &mut tx,
        audit::Event {
            actor: &Actor::User(admin.id.clone()),
            what: "governance.changed",
            subject_kind: "settings",
            subject_id: "one_person_changes",
            detail: serde_json::json!({
                "reason": reason,
                "before": { "one_person_changes": before },
                "after": { "one_person_changes": on },
            }),
        },
    )
    .await?;
    tx.commit().await?;
    tracing::warn!(on, admin = %admin.username, "one-person changes switched");
    Ok(())
}
