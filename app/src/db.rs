//! Storage: one pool for every backend, chosen by the URL's scheme.
//! Queries are portable SQL (`$1` placeholders, text ids, integer times).

use sqlx::any::{AnyConnectOptions, AnyPoolOptions};
use sqlx::{AnyPool, Executor};
use std::str::FromStr;

pub type Db = AnyPool;
pub type Tx<'a> = sqlx::Transaction<'a, sqlx::Any>;

mod unflushed;
pub use unflushed::Unflushed;

/// Where a statement runs, got only when one needs it: a connection as it
/// is, or the submission writer's batch, whose transaction (and lock)
/// begins at its first statement, so that a batch with nothing to read
/// sends BEGIN together with its writes (`actions::commit_write`).
pub trait OnDemand: Send {
    fn conn(
        &mut self,
    ) -> impl std::future::Future<Output = Result<&mut sqlx::AnyConnection, crate::error::AppError>> + Send;
}

/// Whether `conn` is SQLite's (else PostgreSQL's): where the two differ
/// in what one statement may carry, or in how a lock is taken.
pub fn is_sqlite(conn: &sqlx::AnyConnection) -> bool {
    conn.backend_name() == "SQLite"
}

impl OnDemand for sqlx::AnyConnection {
    async fn conn(&mut self) -> Result<&mut sqlx::AnyConnection, crate::error::AppError> {
        Ok(self)
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

impl Backend {
    pub fn of(url: &str) -> Result<Self, String> {
        if url.starts_with("sqlite:") {
            Ok(Backend::Sqlite)
        } else if url.starts_with("postgres:") || url.starts_with("postgresql:") {
            Ok(Backend::Postgres)
        } else {
            Err(format!(
                "unsupported database URL scheme in {:?}: use sqlite:// or postgres://",
                redact_url(url)
            ))
        }
    }
}

/// For SQLite: create the parent folder and ask for the file to be created.
pub fn prepare_sqlite_url(url: &str) -> std::io::Result<String> {
    let path = url
        .trim_start_matches("sqlite://")
        .trim_start_matches("sqlite:");
    let file = path.split('?').next().unwrap_or_default();
    if !file.is_empty() && file != ":memory:" {
        if let Some(parent) = std::path::Path::new(file).parent() {
            if !parent.as_os_str().is_empty() {
                std::fs::create_dir_all(parent)?;
            }
        }
    }
    Ok(if url.contains("mode=") {
        url.to_string()
    } else if url.contains('?') {
        format!("{url}&mode=rwc")
    } else {
        format!("{url}?mode=rwc")
    })
}

/// Hides a password in a database URL, for logs and errors.
pub fn redact_url(url: &str) -> String {
    // The query first: an `@` in it must not be taken for the credentials'.
    let (base, query) = match url.split_once('?') {
        Some((base, query)) => (base, Some(query)),
        None => (url, None),
    };
    let base = match (base.find("://"), base.rfind('@')) {
        (Some(scheme_end), Some(at)) if at > scheme_end => {
            let creds = &base[scheme_end + 3..at];
            match creds.find(':') {
                Some(colon) => format!(
                    "{}{}:***{}",
                    &base[..scheme_end + 3],
                    &creds[..colon],
                    &base[at..]
                ),
                None => base.to_string(),
            }
        }
        _ => base.to_string(),
    };
    // PostgreSQL also takes the password as a parameter: `?password=…`
    // (the name may be percent-encoded).
    match query {
        None => base,
        Some(query) => {
            let params: Vec<String> = query
                .split('&')
                .map(|p| match p.split_once('=') {
                    Some((k, _)) if is_password_key(k) => format!("{k}=***"),
                    _ => p.to_string(),
                })
                .collect();
            format!("{base}?{}", params.join("&"))
        }
    }
}

fn is_password_key(key: &str) -> bool {
    let mut decoded = String::new();
    let mut bytes = key.bytes();
    while let Some(b) = bytes.next() {
        let hex = |b: Option<u8>| b.and_then(|b| (b as char).to_digit(16));
        match b {
            b'%' => match (hex(bytes.next()), hex(bytes.next())) {
                (Some(h), Some(l)) => decoded.push(char::from((h * 16 + l) as u8)),
                _ => return true, // malformed: hide it
            },
            b => decoded.push(char::from(b)),
        }
    }
    decoded.eq_ignore_ascii_case("password")
}

/// The page size of a SQLite database Belay creates. A durable commit
/// costs an fsync and the WAL frames it writes, one whole page for each
/// page it changed; a decision changes about a dozen (its request, audit
/// row and rollups, and their indexes), each by a few hundred bytes, so at
/// SQLite's default of 4 KiB most of the ~50 KiB it wrote was unchanged.
/// Measured with the `load` benchmark, 2 KiB beat 4 KiB at one and at 16
/// connections and matched it at 64; 1 KiB lost at 64 (batches touch more
/// pages, and B-trees are deeper). An existing database keeps its page
/// size (WAL cannot change it); the README says how to convert one.
pub const NEW_PAGE_SIZE: u32 = 2048;

static SQLITE_PRAGMAS: std::sync::LazyLock<String> = std::sync::LazyLock::new(|| {
    format!(
        "PRAGMA page_size = {NEW_PAGE_SIZE}; PRAGMA journal_mode = WAL; \
         PRAGMA synchronous = FULL; PRAGMA foreign_keys = ON; PRAGMA busy_timeout = 5000;"
    )
});

pub async fn connect(url: &str) -> Result<Db, sqlx::Error> {
    sqlx::any::install_default_drivers();
    let backend = Backend::of(url).map_err(|e| sqlx::Error::Configuration(e.into()))?;
    let url = match backend {
        Backend::Sqlite => prepare_sqlite_url(url).map_err(sqlx::Error::Io)?,
        Backend::Postgres => url.to_string(),
    };
    let options = AnyConnectOptions::from_str(&url)?;
    let pool = AnyPoolOptions::new()
        .max_connections(if backend == Backend::Sqlite { 8 } else { 16 })
        .after_connect(move |conn, _| {
            Box::pin(async move {
                if backend == Backend::Sqlite {
                    // The page size first: it takes only on a file nothing
                    // has been written to yet (see NEW_PAGE_SIZE). WAL lets
                    // readers run beside the writer; FULL makes every
                    // acknowledged commit survive a crash or power loss.
                    conn.execute(SQLITE_PRAGMAS.as_str()).await?;
                }
                Ok(())
            })
        })
        .connect_with(options)
        .await?;
    Ok(pool)
}

/// A transaction that reads before it writes. On SQLite it takes the write
/// lock at `BEGIN IMMEDIATE` (waiting out `busy_timeout` like any writer):
/// a deferred transaction that has read cannot wait for the lock, and fails
/// with "database is locked" whenever another writer commits meanwhile.
/// PostgreSQL locks rows as it writes them, so a plain BEGIN does.
pub async fn begin_write(db: &Db) -> Result<Tx<'static>, sqlx::Error> {
    if db.connect_options().database_url.scheme() == "sqlite" {
        db.begin_with("BEGIN IMMEDIATE").await
    } else {
        db.begin().await
    }
}

static SQLITE_MIGRATIONS: sqlx::migrate::Migrator = sqlx::migrate!("../migrations/sqlite");
static POSTGRES_MIGRATIONS: sqlx::migrate::Migrator = sqlx::migrate!("../migrations/postgres");

pub async fn migrate(db: &Db, url: &str) -> Result<(), sqlx::migrate::MigrateError> {
    let backend = Backend::of(url).map_err(|e| sqlx::migrate::MigrateError::Source(e.into()))?;
    migrations(backend).run(db).await
}

/// The migrations this binary knows for a backend (a restore checks a
/// backup's against them).
pub fn migrations(backend: Backend) -> &'static sqlx::migrate::Migrator {
    match backend {
        Backend::Sqlite => &SQLITE_MIGRATIONS,
        Backend::Postgres => &POSTGRES_MIGRATIONS,
    }
}

/// The migration versions this build carries for `backend` (readiness
/// compares them with the applied ones).
pub fn migration_versions(backend: Backend) -> std::collections::BTreeSet<i64> {
    let migrator = match backend {
        Backend::Sqlite => &SQLITE_MIGRATIONS,
        Backend::Postgres => &POSTGRES_MIGRATIONS,
    };
    migrator
        .iter()
        .filter(|m| !m.migration_type.is_down_migration())
        .map(|m| m.version)
        .collect()
}

/// Milliseconds since the Unix epoch: how times are stored.
pub fn now_ms() -> i64 {
    let now = time::OffsetDateTime::now_utc();
    (now.unix_timestamp_nanos() / 1_000_000) as i64
}

/// Time-ordered ids (UUIDv7), stored as text.
pub fn new_id() -> String {
    uuid::Uuid::now_v7().to_string()
}

/// `YYYY-MM-DD` → midnight UTC of that day, in ms.
pub fn day_start_ms(s: &str) -> Option<i64> {
    let mut parts = s.splitn(3, '-');
    let year: i32 = parts.next()?.parse().ok()?;
    let month: u8 = parts.next()?.parse().ok()?;
    let day: u8 = parts.next()?.parse().ok()?;
    let month = time::Month::try_from(month).ok()?;
    let date = time::Date::from_calendar_date(year, month, day).ok()?;
    let secs = date.midnight().assume_utc().unix_timestamp();
    secs.checked_mul(1000)
}

/// An INSERT that must be the first of its kind: a unique violation is
/// the caller's conflict (`taken`), any other failure an error.
pub fn first_of_its_kind<T>(
    inserted: Result<T, sqlx::Error>,
    taken: impl FnOnce() -> crate::error::AppError,
) -> Result<(), crate::error::AppError> {
    match inserted {
        Err(sqlx::Error::Database(e)) if e.is_unique_violation() => Err(taken()),
        Err(e) => Err(e.into()),
        Ok(_) => Ok(()),
    }
}

/// Placeholders for a multi-row INSERT: `rows` groups of `columns`,
/// numbered on from `$1`: `($1, $2), ($3, $4)`.
pub fn placeholders(rows: usize, columns: usize) -> String {
    (0..rows)
        .map(|r| {
            let n = r * columns;
            let row: Vec<String> = (1..=columns).map(|k| format!("${}", n + k)).collect();
            format!("({})", row.join(", "))
        })
        .collect::<Vec<_>>()
        .join(", ")
}

/// Ids are UUIDs. Anything else names no row, so it is "not found" without
/// asking the database (which may refuse odd bytes such as NUL).
pub fn known_id(id: &str, what: &str) -> Result<(), crate::error::AppError> {
    match uuid::Uuid::try_parse(id) {
        Ok(_) => Ok(()),
        Err(_) => Err(crate::error::AppError::NotFound(format!("no such {what}"))),
    }
}

/// RFC 3339 text for API responses.
pub fn rfc3339(ms: i64) -> String {
    let t = time::OffsetDateTime::from_unix_timestamp_nanos(ms as i128 * 1_000_000)
        .unwrap_or(time::OffsetDateTime::UNIX_EPOCH);
    t.format(&time::format_description::well_known::Rfc3339)
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn placeholders_number_on_across_rows() {
        assert_eq!(placeholders(2, 2), "($1, $2), ($3, $4)");
        assert_eq!(placeholders(1, 3), "($1, $2, $3)");
    }

    #[test]
    fn redact_url_hides_the_password() {
        assert_eq!(
            redact_url("postgres://belay:s3cret@db:5432/belay"),
            "postgres://belay:***@db:5432/belay"
        );
        assert_eq!(
            redact_url("sqlite://data/belay.db"),
            "sqlite://data/belay.db"
        );
        assert_eq!(
            redact_url("postgres://db/belay?user=b&Password=s3cret&sslmode=require"),
            "postgres://db/belay?user=b&Password=***&sslmode=require"
        );
        assert_eq!(
            redact_url("postgres://db:5432/belay?application_name=ci@runner&pass%77ord=s3cret"),
            "postgres://db:5432/belay?application_name=ci@runner&pass%77ord=***"
        );
        assert_eq!(
            redact_url("postgres://u:pw@db/b?x=1"),
            "postgres://u:***@db/b?x=1"
        );
    }

    #[test]
    fn sqlite_url_asks_for_the_file_to_be_created() {
        let dir = std::env::temp_dir().join(format!("belay-url-{}", new_id()));
        let url = format!("sqlite://{}/x.db", dir.display());
        assert_eq!(prepare_sqlite_url(&url).unwrap(), format!("{url}?mode=rwc"));
        assert!(dir.is_dir());
        assert_eq!(
            prepare_sqlite_url("sqlite::memory:?mode=memory").unwrap(),
            "sqlite::memory:?mode=memory"
        );
    }

    async fn page_size(db: &Db) -> i64 {
        sqlx::query_scalar("PRAGMA page_size")
            .fetch_one(db)
            .await
            .unwrap()
    }

    #[tokio::test]
    async fn a_new_database_gets_small_pages_and_an_old_one_keeps_its_own() {
        let dir = std::env::temp_dir().join(format!("belay-pages-{}", new_id()));
        let url = format!("sqlite://{}/new.db", dir.display());
        let db = connect(&url).await.unwrap();
        migrate(&db, &url).await.unwrap();
        assert_eq!(page_size(&db).await, i64::from(NEW_PAGE_SIZE));
        db.close().await;
        // Opened again, it is what it was.
        let db = connect(&url).await.unwrap();
        assert_eq!(page_size(&db).await, i64::from(NEW_PAGE_SIZE));
        db.close().await;

        // A database made before (SQLite's default of 4 KiB, in WAL mode)
        // keeps its pages, and Belay migrates and writes it as ever.
        let old = dir.join("old.db");
        let old_url = format!("sqlite://{}", old.display());
        {
            use sqlx::Connection;
            sqlx::any::install_default_drivers();
            let mut conn = sqlx::AnyConnection::connect(&format!("{old_url}?mode=rwc"))
                .await
                .unwrap();
            sqlx::raw_sql("PRAGMA page_size = 4096; PRAGMA journal_mode = WAL; CREATE TABLE t (x)")
                .execute(&mut conn)
                .await
                .unwrap();
            conn.close().await.unwrap();
        }
        let db = connect(&old_url).await.unwrap();
        migrate(&db, &old_url).await.unwrap();
        assert_eq!(page_size(&db).await, 4096);
        db.close().await;
        let _ = std::fs::remove_dir_all(dir);
    }

    #[test]
    fn unknown_scheme_is_refused() {
        assert!(Backend::of("mysql://x").is_err());
        assert_eq!(Backend::of("postgresql://x").unwrap(), Backend::Postgres);
    }
}
