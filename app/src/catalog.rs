//! The capability catalog: named kinds of action and their risk triggers.

use crate::db::Db;
use crate::error::AppError;
use crate::policy::{Capability, Trigger};
use sqlx::Row;

/// What the catalog says about `name`. A stored trigger we cannot parse
/// makes the entry unreadable, which the policy treats as high risk.
pub async fn lookup(db: &Db, name: &str) -> Result<Capability, AppError> {
    let row = sqlx::query("SELECT triggers FROM capabilities WHERE name = $1")
        .bind(name)
        .fetch_optional(db)
        .await?;
    Ok(match row {
        None => Capability::Unknown,
        Some(row) => {
            let stored: String = row.try_get("triggers")?;
            match Trigger::parse_list(&stored) {
                Ok(triggers) => Capability::Known(triggers),
                Err(why) => {
                    tracing::warn!(capability = name, %why, "unreadable catalog entry");
                    Capability::Unreadable(why)
                }
            }
        }
    })
}
