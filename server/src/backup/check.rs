//! What a file must pass before it becomes the database: SQLite finds no
//! damage in it, every migration it records is one this binary knows (with
//! the same text), and its audit trail's hash chain holds end to end.

use crate::startup::StartupError;
use app::db::Backend;
use sqlx::{Connection, Row};
use std::fmt;
use std::path::Path;

/// The migration that made the audit trail a hash chain.
const CHAIN_MIGRATION: i64 = 6;

pub struct Checked {
    migrations: usize,
    /// Migrations this binary has and the file does not yet.
    pub to_apply: usize,
    /// Events the chain walk checked; `None` before the chain existed.
    events: Option<u64>,
}

pub async fn all(path: &Path) -> Result<Checked, StartupError> {
    let mut conn = super::open(path, false)
        .await
        .map_err(|e| format!("the backup is damaged or not a SQLite database: {e}"))?;
    let found: Vec<String> = sqlx::query("PRAGMA integrity_check")
        .fetch_all(&mut conn)
        .await
        .map_err(|e| format!("the backup is damaged or not a SQLite database: {e}"))?
        .iter()
        .map(|r| r.try_get::<String, _>(0))
        .collect::<Result<_, _>>()?;
    if found != ["ok"] {
        return Err(format!(
            "the backup is damaged (SQLite's integrity check): {}",
            found.join("; ")
        )
        .into());
    }
    if !super::holds::has_table(&mut conn, "_sqlx_migrations").await? {
        return Err("the backup is not a Belay database (it records no migrations)".into());
    }
    let applied =
        sqlx::query("SELECT version, checksum, success FROM _sqlx_migrations ORDER BY version")
            .fetch_all(&mut conn)
            .await?;
    conn.close().await?;
    let known = app::db::migrations(Backend::Sqlite);
    let mut has_chain = false;
    for r in &applied {
        let version: i64 = r.try_get("version")?;
        let checksum: Vec<u8> = r.try_get("checksum")?;
        let success: bool = r.try_get("success")?;
        let Some(ours) = known.iter().find(|m| m.version == version) else {
            return Err(format!(
                "the backup records migration {version}, which this Belay does not know (a newer Belay made it?); restore it with that version"
            )
            .into());
        };
        if *ours.checksum != *checksum {
            return Err(format!(
                "the backup's migration {version} ({}) is not the one this Belay has",
                ours.description
            )
            .into());
        }
        if !success {
            return Err(format!("the backup's migration {version} did not finish").into());
        }
        has_chain |= version == CHAIN_MIGRATION;
    }
    let events = if has_chain {
        Some(chain(path).await?)
    } else {
        None
    };
    Ok(Checked {
        migrations: applied.len(),
        to_apply: known.iter().count() - applied.len(),
        events,
    })
}

/// Walks the audit chain, as `belay audit verify` does.
async fn chain(path: &Path) -> Result<u64, StartupError> {
    let url = format!("sqlite://{}?mode=rw", path.display());
    let db = app::db::connect(&url)
        .await
        .map_err(|e| format!("cannot open the backup: {e}"))?;
    let found = app::audit::verify::database(&db, None).await;
    // Closing the last connection folds the write-ahead log back into the
    // file and removes it, leaving one file to install.
    db.close().await;
    match found? {
        Ok(n) => Ok(n),
        Err(why) => Err(format!("the backup's audit trail is broken: {why}").into()),
    }
}

impl fmt::Display for Checked {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "SQLite finds no damage; its {} migrations are this Belay's",
            self.migrations
        )?;
        match self.events {
            Some(n) => write!(
                f,
                "; its audit chain holds ({n} events, each linked to the one before)."
            ),
            None => write!(
                f,
                "; it was made before the audit chain, which Belay seals when it starts."
            ),
        }
    }
}
