//! `belay backup PATH` and `belay restore PATH`: a consistent copy of the
//! SQLite database taken while Belay serves it, and putting one back with
//! the server stopped. PostgreSQL has its own tools (pg_dump, pg_basebackup
//! with WAL archiving), so both commands refuse it and say which to use.
//!
//! The copy is SQLite's `VACUUM INTO`, run through sqlx: one statement in
//! one read transaction, so the copy is the database as of one commit even
//! while submissions keep committing (in WAL mode a reader neither waits
//! for the writer nor holds it up). SQLite's online backup API would need
//! unsafe FFI on sqlx's raw handle, and copying page by page it starts over
//! whenever another connection writes meanwhile, which under steady
//! submissions may be never; done in one step it holds the same read
//! transaction as `VACUUM INTO`, which also leaves out free pages.

mod check;
mod copy;
mod holds;
mod install;

use crate::startup::StartupError;
use app::db::Backend;
use sqlx::sqlite::{SqliteConnectOptions, SqliteConnection};
use sqlx::ConnectOptions;
use std::path::{Path, PathBuf};
use std::time::Duration;

/// `belay backup PATH`: never overwrites; prints the size and what it holds.
pub async fn backup(url: &str, dest: &Path) -> Result<(), StartupError> {
    let source = sqlite_file(url, "backup")?;
    let holds = copy::backup(&source, dest).await?;
    println!(
        "Backed up {} to {} ({}).",
        source.display(),
        dest.display(),
        holds::size(holds.bytes)
    );
    print!("{holds}");
    Ok(())
}

/// `belay restore PATH`: checks the file, then installs it as the database
/// named by `--database-url`, keeping the one it replaces beside it.
pub async fn restore(url: &str, source: &Path) -> Result<(), StartupError> {
    let target = sqlite_file(url, "restore")?;
    if !source.is_file() {
        return Err(format!("there is no backup file at {}", source.display()).into());
    }
    // A database file with a write-ahead log beside it is incomplete on its
    // own: it is someone's live database, not a backup.
    if copy::has_wal(source) {
        return Err(format!(
            "{} has a write-ahead log beside it ({}-wal): it is a live database, not a backup; make one with `belay backup`",
            source.display(),
            source.display()
        )
        .into());
    }
    // Refuse early if a server has the database; checked again at the swap.
    install::not_in_use(&target).await?;
    let staged = copy::Partial::beside(&target, "restoring")?;
    std::fs::copy(source, staged.path())
        .map_err(|e| format!("cannot copy {}: {e}", source.display()))?;
    let checked = check::all(staged.path()).await?;
    let holds = holds::read(staged.path()).await?;
    copy::sync(staged.path())?;
    let aside = install::swap(staged, &target).await?;
    println!("Checked {}: {checked}", source.display());
    print!("{holds}");
    match aside {
        Some(aside) => println!(
            "Restored it as {}; the database it replaced is kept as {}.",
            target.display(),
            aside.display()
        ),
        None => println!(
            "Restored it as {} (there was none before).",
            target.display()
        ),
    }
    if checked.to_apply > 0 {
        println!(
            "Belay applies the {} newer migration(s) when it next starts.",
            checked.to_apply
        );
    }
    Ok(())
}

/// The SQLite file a database URL names; PostgreSQL is told its tools.
fn sqlite_file(url: &str, verb: &str) -> Result<PathBuf, StartupError> {
    match Backend::of(url)? {
        Backend::Postgres => Err(postgres_refusal(verb).into()),
        Backend::Sqlite => {
            let rest = url
                .trim_start_matches("sqlite://")
                .trim_start_matches("sqlite:");
            let file = rest.split('?').next().unwrap_or_default();
            if file.is_empty() || file.starts_with(":memory:") || url.contains("mode=memory") {
                return Err(format!("{verb} needs a database file, not {url:?}").into());
            }
            Ok(PathBuf::from(file))
        }
    }
}

fn postgres_refusal(verb: &str) -> String {
    match verb {
        "backup" => "belay backup copies a SQLite database; this one is on PostgreSQL. Use PostgreSQL's tools: \
                     `pg_dump -Fc -f belay.dump DATABASE_URL` for a consistent copy while Belay serves, or \
                     pg_basebackup with WAL archiving for point-in-time recovery (see the README)."
            .into(),
        _ => "belay restore installs a SQLite backup; this database is on PostgreSQL. Use \
              `pg_restore --clean --if-exists -d DATABASE_URL belay.dump` with the servers stopped, then \
              `belay audit verify` (see the README)."
            .into(),
    }
}

/// One connection to an existing SQLite file, changing nothing about it on
/// its own (sqlx sets no journal mode unless asked).
async fn open(path: &Path, exclusive: bool) -> Result<SqliteConnection, sqlx::Error> {
    let mut options = SqliteConnectOptions::new()
        .filename(path)
        .create_if_missing(false)
        .busy_timeout(if exclusive {
            Duration::ZERO
        } else {
            Duration::from_secs(5)
        });
    if exclusive {
        options = options.locking_mode(sqlx::sqlite::SqliteLockingMode::Exclusive);
    }
    options.connect().await
}
