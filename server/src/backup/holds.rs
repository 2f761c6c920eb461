//! What a backup holds, read from the copy itself (so a copy that cannot be
//! read fails here rather than on the day it is needed).

use crate::startup::StartupError;
use sqlx::{Connection, Row, SqliteConnection};
use std::fmt;
use std::path::Path;

pub struct Holds {
    pub bytes: u64,
    people: i64,
    agents: i64,
    requests: i64,
    evidence: i64,
    events: i64,
    migration: i64,
    /// The newest audit event, in words.
    newest: Option<String>,
    /// The chain's head (`N:HASH`), to keep elsewhere.
    head: Option<String>,
}

pub async fn read(path: &Path) -> Result<Holds, StartupError> {
    let bytes = std::fs::metadata(path)
        .map_err(|e| format!("cannot read {}: {e}", path.display()))?
        .len();
    let mut conn = super::open(path, false)
        .await
        .map_err(|e| format!("cannot open {}: {e}", path.display()))?;
    let not_belay = |e: sqlx::Error| format!("{} is not a Belay database: {e}", path.display());
    let people = count(&mut conn, "users").await.map_err(not_belay)?;
    let agents = count(&mut conn, "agents").await.map_err(not_belay)?;
    let requests = count(&mut conn, "action_requests")
        .await
        .map_err(not_belay)?;
    let evidence = count(&mut conn, "evidence").await.map_err(not_belay)?;
    let events = count(&mut conn, "audit_events").await.map_err(not_belay)?;
    let migration: i64 = sqlx::query("SELECT COALESCE(MAX(version), 0) FROM _sqlx_migrations")
        .fetch_one(&mut conn)
        .await
        .and_then(|r| r.try_get(0))
        .map_err(not_belay)?;
    // Before the chain (migration 6) events have no number; `seq` orders them.
    let chained = has_table(&mut conn, "audit_head").await?;
    let newest = sqlx::query(if chained {
        "SELECT COALESCE(chain_no, 0), at, what, subject_kind, subject_id FROM audit_events \
         ORDER BY chain_no IS NULL, chain_no DESC, seq DESC LIMIT 1"
    } else {
        "SELECT 0, at, what, subject_kind, subject_id FROM audit_events ORDER BY seq DESC LIMIT 1"
    })
    .fetch_optional(&mut conn)
    .await?
    .map(|r| -> Result<String, sqlx::Error> {
        let n: i64 = r.try_get(0)?;
        let at: i64 = r.try_get(1)?;
        let (what, kind, id): (String, String, String) =
            (r.try_get(2)?, r.try_get(3)?, r.try_get(4)?);
        let place = if n > 0 {
            format!("#{n} ")
        } else {
            String::new()
        };
        Ok(format!(
            "{place}{what} on {kind} {id}, at {}",
            app::db::rfc3339(at)
        ))
    })
    .transpose()?;
    let head = if chained {
        let r = sqlx::query("SELECT chain_no, hash FROM audit_head WHERE id = 1")
            .fetch_optional(&mut conn)
            .await?;
        r.map(|r| -> Result<String, sqlx::Error> {
            Ok(format!(
                "{}:{}",
                r.try_get::<i64, _>(0)?,
                r.try_get::<String, _>(1)?
            ))
        })
        .transpose()?
    } else {
        None
    };
    conn.close().await?;
    Ok(Holds {
        bytes,
        people,
        agents,
        requests,
        evidence,
        events,
        migration,
        newest,
        head,
    })
}

async fn count(conn: &mut SqliteConnection, table: &str) -> Result<i64, sqlx::Error> {
    sqlx::query(&format!("SELECT COUNT(*) FROM {table}"))
        .fetch_one(conn)
        .await?
        .try_get(0)
}

pub async fn has_table(conn: &mut SqliteConnection, name: &str) -> Result<bool, sqlx::Error> {
    let n: i64 =
        sqlx::query("SELECT COUNT(*) FROM sqlite_master WHERE type = 'table' AND name = $1")
            .bind(name)
            .fetch_one(conn)
            .await?
            .try_get(0)?;
    Ok(n > 0)
}

/// Bytes for people: `12.3 MiB`.
pub fn size(bytes: u64) -> String {
    const UNITS: [&str; 4] = ["bytes", "KiB", "MiB", "GiB"];
    let mut value = bytes as f64;
    let mut unit = 0;
    while value >= 1024.0 && unit + 1 < UNITS.len() {
        value /= 1024.0;
        unit += 1;
    }
    if unit == 0 {
        format!("{bytes} bytes")
    } else {
        format!("{value:.1} {}", UNITS[unit])
    }
}

impl fmt::Display for Holds {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let n = |n: i64, one: &str, many: &str| format!("{n} {}", if n == 1 { one } else { many });
        writeln!(
            f,
            "It holds {}, {}, {} with {} of evidence, and {}; its schema is at migration {}.",
            n(self.people, "person", "people"),
            n(self.agents, "agent", "agents"),
            n(self.requests, "request", "requests"),
            n(self.evidence, "piece", "pieces"),
            n(self.events, "audit event", "audit events"),
            self.migration
        )?;
        match &self.newest {
            Some(newest) => writeln!(f, "Newest audit event: {newest}.")?,
            None => writeln!(f, "It has no audit events yet.")?,
        }
        if let Some(head) = &self.head {
            writeln!(
                f,
                "Audit head (keep it elsewhere; `belay audit verify --head` checks against it): {head}"
            )?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn sizes_read_as_people_say_them() {
        assert_eq!(super::size(512), "512 bytes");
        assert_eq!(super::size(1536), "1.5 KiB");
        assert_eq!(super::size(3 << 20), "3.0 MiB");
    }
}
