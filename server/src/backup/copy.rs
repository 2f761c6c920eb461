//! Taking the copy: `VACUUM INTO` a file beside the destination, flushed
//! to disk (SQLite does not sync what `VACUUM INTO` writes), then linked to
//! its name, which fails if anything is there: a backup never overwrites.

use super::holds::{self, Holds};
use crate::startup::StartupError;
use sqlx::Connection;
use std::path::{Path, PathBuf};

pub async fn backup(source: &Path, dest: &Path) -> Result<Holds, StartupError> {
    if !source.is_file() {
        return Err(format!("there is no database at {}", source.display()).into());
    }
    if dest.exists() {
        return Err(refuse_existing(dest));
    }
    let staged = Partial::beside(dest, "partial")?;
    let name = staged
        .path()
        .to_str()
        .ok_or("the backup's path must be valid UTF-8")?
        .to_string();
    let mut conn = super::open(source, false)
        .await
        .map_err(|e| format!("cannot open {}: {e}", source.display()))?;
    // The copy gets the page size Belay gives a new database, whatever the
    // source's (`VACUUM INTO` writes the page size the connection asked
    // for; the source keeps its own): backing up and restoring is how a
    // database made before changes its pages.
    sqlx::query(&format!("PRAGMA page_size = {}", app::db::NEW_PAGE_SIZE))
        .execute(&mut conn)
        .await
        .map_err(|e| format!("cannot copy {}: {e}", source.display()))?;
    sqlx::query("VACUUM INTO $1")
        .bind(name)
        .execute(&mut conn)
        .await
        .map_err(|e| format!("cannot copy {}: {e}", source.display()))?;
    conn.close().await.ok();
    // One self-contained file: a copy in rollback-journal mode has no
    // write-ahead log to keep beside it (Belay turns WAL back on at start).
    let mut copy = super::open(staged.path(), false).await?;
    sqlx::query("PRAGMA journal_mode = DELETE")
        .execute(&mut copy)
        .await?;
    copy.close().await?;
    let holds = holds::read(staged.path()).await?;
    sync(staged.path())?;
    match std::fs::hard_link(staged.path(), dest) {
        Ok(()) => {}
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {
            return Err(refuse_existing(dest))
        }
        Err(e) => return Err(format!("cannot write {}: {e}", dest.display()).into()),
    }
    drop(staged);
    sync_dir(dest)?;
    Ok(holds)
}

fn refuse_existing(dest: &Path) -> StartupError {
    format!(
        "{} already exists; a backup never overwrites a file (choose a new name)",
        dest.display()
    )
    .into()
}

/// Whether a non-empty write-ahead log lies beside a database file.
pub fn has_wal(db: &Path) -> bool {
    std::fs::metadata(sidecar(db, "-wal")).is_ok_and(|m| m.len() > 0)
}

/// `belay.db` → `belay.db-wal` (SQLite's names for a file's companions).
pub fn sidecar(db: &Path, suffix: &str) -> PathBuf {
    let mut name = db.as_os_str().to_owned();
    name.push(suffix);
    PathBuf::from(name)
}

/// Flushes a file to disk.
pub fn sync(path: &Path) -> Result<(), StartupError> {
    std::fs::File::open(path)
        .and_then(|f| f.sync_all())
        .map_err(|e| format!("cannot flush {} to disk: {e}", path.display()).into())
}

/// Flushes the folder holding `path`, so a rename or link in it is on disk.
pub fn sync_dir(path: &Path) -> Result<(), StartupError> {
    let dir = match path.parent() {
        Some(d) if !d.as_os_str().is_empty() => d,
        _ => Path::new("."),
    };
    sync(dir)
}

/// A file being written beside its final name (same file system, so it
/// can be linked or renamed there), removed with its companions unless it
/// was moved into place.
pub struct Partial {
    path: PathBuf,
    placed: bool,
}

impl Partial {
    pub fn beside(target: &Path, what: &str) -> Result<Partial, StartupError> {
        let dir = match target.parent() {
            Some(d) if !d.as_os_str().is_empty() => d.to_path_buf(),
            _ => PathBuf::from("."),
        };
        std::fs::create_dir_all(&dir)
            .map_err(|e| format!("cannot create {}: {e}", dir.display()))?;
        let name = target
            .file_name()
            .ok_or_else(|| format!("{} is not a file name", target.display()))?
            .to_string_lossy();
        let path = dir.join(format!(".{name}.{what}-{}", std::process::id()));
        let partial = Partial {
            path,
            placed: false,
        };
        partial.remove();
        Ok(partial)
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Moves it to `to`, replacing what is there in one step.
    pub fn rename_to(mut self, to: &Path) -> std::io::Result<()> {
        std::fs::rename(&self.path, to)?;
        self.placed = true;
        Ok(())
    }

    fn remove(&self) {
        for suffix in ["", "-journal", "-wal", "-shm"] {
            let _ = std::fs::remove_file(sidecar(&self.path, suffix));
        }
    }
}

impl Drop for Partial {
    fn drop(&mut self) {
        if !self.placed {
            self.remove();
        }
    }
}
