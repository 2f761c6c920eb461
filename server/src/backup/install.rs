//! Putting a checked copy in place of the database, with nobody using it.
//!
//! Is a server using the database? Every Belay process keeps it open while
//! it runs (the pool's connections; the 15-second sweeps keep one alive),
//! and in WAL mode each open connection holds a shared lock on the file
//! for as long as it is open. So the restore opens the file in SQLite's
//! exclusive locking mode and asks for an exclusive transaction without
//! waiting: if any process (a server, `belay mcp stdio`, a `belay` command)
//! has it open, SQLite refuses, and so does the restore. A server on
//! another machine over a network file system is beyond what file locks
//! can be trusted to show; stop the servers before restoring.
//!
//! The swap: the previous database stays as `NAME.before-restore-TIME`
//! (a hard link, so the name never points at nothing), with its `-wal` if
//! a crash left one (it belongs to the old file and must never meet the new
//! one; closing the probe's connection usually folds it in first); a stale
//! `-shm` is removed; then the checked copy, flushed to disk beside it, is
//! renamed over the name in one step, and the folder is flushed.

use super::copy::{self, sidecar, Partial};
use crate::startup::StartupError;
use sqlx::Connection;
use std::path::{Path, PathBuf};

pub async fn not_in_use(target: &Path) -> Result<(), StartupError> {
    if !target.exists() {
        return Ok(());
    }
    let found = match super::open(target, true).await {
        Ok(mut conn) => {
            let probe = async {
                sqlx::query("BEGIN EXCLUSIVE").execute(&mut conn).await?;
                sqlx::query("SELECT COUNT(*) FROM sqlite_master")
                    .fetch_one(&mut conn)
                    .await?;
                sqlx::query("ROLLBACK").execute(&mut conn).await?;
                Ok::<(), sqlx::Error>(())
            }
            .await;
            conn.close().await.ok();
            probe
        }
        Err(e) => Err(e),
    };
    match found {
        Ok(()) => Ok(()),
        Err(e) if busy(&e) => Err(format!(
            "{} is in use: a Belay server (or another belay command) has it open. Stop it, then restore.",
            target.display()
        )
        .into()),
        Err(e) => Err(format!("cannot open {}: {e}", target.display()).into()),
    }
}

/// SQLITE_BUSY or SQLITE_LOCKED, in any of their extended forms.
fn busy(e: &sqlx::Error) -> bool {
    match e {
        sqlx::Error::Database(d) => d
            .code()
            .and_then(|c| c.parse::<i32>().ok())
            .is_some_and(|c| matches!(c & 0xff, 5 | 6)),
        _ => false,
    }
}

/// Installs `staged` as `target`; returns where the previous one is kept.
pub async fn swap(staged: Partial, target: &Path) -> Result<Option<PathBuf>, StartupError> {
    if copy::has_wal(staged.path()) {
        return Err(
            "the checked copy still has a write-ahead log beside it; nothing was changed".into(),
        );
    }
    not_in_use(target).await?;
    let aside = if target.exists() {
        let aside = aside_name(target)?;
        keep(target, &aside)?;
        for suffix in ["-wal", "-journal"] {
            let old = sidecar(target, suffix);
            if old.exists() {
                keep(&old, &sidecar(&aside, suffix))?;
                std::fs::remove_file(&old)
                    .map_err(|e| format!("cannot move {} aside: {e}", old.display()))?;
            }
        }
        let _ = std::fs::remove_file(sidecar(target, "-shm"));
        copy::sync_dir(&aside)?;
        Some(aside)
    } else {
        None
    };
    staged
        .rename_to(target)
        .map_err(|e| format!("cannot install the copy as {}: {e}", target.display()))?;
    copy::sync_dir(target)?;
    Ok(aside)
}

/// `belay.db.before-restore-20261130T181500Z`, beside it.
fn aside_name(target: &Path) -> Result<PathBuf, StartupError> {
    let stamp = time::OffsetDateTime::now_utc()
        .format(time::macros::format_description!(
            "[year][month][day]T[hour][minute][second]Z"
        ))
        .map_err(|e| e.to_string())?;
    let mut name = target.as_os_str().to_owned();
    name.push(format!(".before-restore-{stamp}"));
    Ok(PathBuf::from(name))
}

/// A second name for `from` (a copy where the file system has no links).
fn keep(from: &Path, to: &Path) -> Result<(), StartupError> {
    let kept = match std::fs::hard_link(from, to) {
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => Err(e),
        Err(_) => std::fs::copy(from, to).and_then(|_| std::fs::File::open(to)?.sync_all()),
        ok => ok,
    };
    kept.map_err(|e| {
        format!(
            "cannot keep {} as {}: {e}; nothing was changed",
            from.display(),
            to.display()
        )
        .into()
    })
}
