//! Readiness: the database answers, and its applied migrations are exactly
//! the ones this build carries. A replica whose database is behind (another
//! replica has not migrated it yet) or ahead (a newer build migrated it
//! during a rolling upgrade) takes no traffic until that is settled.

use crate::db::{self, Backend, Db};
use serde::Serialize;
use sqlx::Row;
use std::collections::BTreeSet;

/// Why a replica is not ready; shown to the load balancer as JSON.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct NotReady {
    pub reason: String,
}

impl NotReady {
    fn new(reason: impl Into<String>) -> Self {
        NotReady {
            reason: reason.into(),
        }
    }
}

/// Ready, or the first thing that keeps this replica from being.
pub async fn check(db: &Db) -> Result<(), NotReady> {
    let url = db.connect_options().database_url.clone();
    let backend = Backend::of(url.as_str()).map_err(NotReady::new)?;
    let applied = sqlx::query("SELECT version FROM _sqlx_migrations WHERE success")
        .fetch_all(db)
        .await
        .map_err(|e| {
            tracing::warn!(error = %e, "readiness: the database does not answer");
            NotReady::new("the database does not answer")
        })?
        .iter()
        .map(|r| r.try_get::<i64, _>("version"))
        .collect::<Result<BTreeSet<i64>, _>>()
        .map_err(|_| NotReady::new("the migrations table cannot be read"))?;
    compare(&applied, &db::migration_versions(backend))
}

/// The applied versions against the compiled ones.
fn compare(applied: &BTreeSet<i64>, compiled: &BTreeSet<i64>) -> Result<(), NotReady> {
    if let Some(missing) = compiled.difference(applied).next() {
        return Err(NotReady::new(format!(
            "the database is behind: migration {missing} is not applied (run `belay migrate`)"
        )));
    }
    if let Some(unknown) = applied.difference(compiled).next() {
        return Err(NotReady::new(format!(
            "the database has migration {unknown}, which this build does not know (a newer Belay migrated it)"
        )));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_the_same_migrations_are_ready() {
        let set = |v: &[i64]| v.iter().copied().collect::<BTreeSet<i64>>();
        assert_eq!(compare(&set(&[1, 2, 3]), &set(&[1, 2, 3])), Ok(()));
        let behind = compare(&set(&[1, 2]), &set(&[1, 2, 3])).unwrap_err();
        assert!(behind.reason.contains("behind: migration 3"), "{behind:?}");
        let ahead = compare(&set(&[1, 2, 3, 4]), &set(&[1, 2, 3])).unwrap_err();
        assert!(ahead.reason.contains("migration 4"), "{ahead:?}");
    }
}
