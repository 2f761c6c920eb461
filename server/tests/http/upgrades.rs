//! A database made by an earlier Belay upgrades without losing anything:
//! migration 0022 copies SQLite's `audit_events` into a table without
//! AUTOINCREMENT, and the trail written before must come out whole.

use app::audit::{verify, Actor};
use app::auth::{users, Role};
use app::db::{migrations, Backend, Db};
use sqlx::migrate::Migrator;
use sqlx::Row;

/// Every audit row as it is numbered and sealed, in order.
async fn trail(db: &Db) -> Vec<(i64, String, i64, String)> {
    sqlx::query("SELECT seq, id, chain_no, hash FROM audit_events ORDER BY seq")
        .fetch_all(db)
        .await
        .unwrap()
        .iter()
        .map(|r| (r.get("seq"), r.get("id"), r.get("chain_no"), r.get("hash")))
        .collect()
}

async fn person(db: &Db, name: &str) {
    users::create(
        db,
        &Actor::System,
        name,
        Role::Reviewer,
        "upgrade password 123".into(),
    )
    .await
    .unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_audit_trail_written_before_migration_22_verifies_after_it_and_goes_on() {
    let dir = tempfile::tempdir().unwrap();
    let db = app::db::connect(&format!("sqlite://{}/old.db", dir.path().display()))
        .await
        .unwrap();
    // The database as the release before 0022 left it.
    let earlier = dir.path().join("migrations");
    std::fs::create_dir(&earlier).unwrap();
    let ours = concat!(env!("CARGO_MANIFEST_DIR"), "/../migrations/sqlite");
    for file in std::fs::read_dir(ours).unwrap() {
        let path = file.unwrap().path();
        let name = path.file_name().unwrap().to_str().unwrap().to_string();
        if name.as_str() < "0022" {
            std::fs::copy(&path, earlier.join(name)).unwrap();
        }
    }
    let before = Migrator::new(earlier.as_path()).await.unwrap();
    before.run(&db).await.unwrap();
    for name in ["ada", "grace", "edsger"] {
        person(&db, name).await;
    }
    let old = trail(&db).await;
    assert!(old.len() >= 3, "{old:?}");

    migrations(Backend::Sqlite).run(&db).await.unwrap();
    assert_eq!(
        trail(&db).await,
        old,
        "every row keeps its number, id and seal"
    );
    assert_eq!(
        verify::database(&db, None).await.unwrap(),
        Ok(old.len() as u64)
    );
    let table: String = sqlx::query("SELECT sql FROM sqlite_master WHERE name = 'audit_events'")
        .fetch_one(&db)
        .await
        .unwrap()
        .get("sql");
    assert!(!table.contains("AUTOINCREMENT"), "{table}");

    // The next event is numbered after the last and extends the chain.
    person(&db, "barbara").await;
    let now = trail(&db).await;
    assert_eq!(now.len(), old.len() + 1);
    let (last, next) = (&old[old.len() - 1], &now[old.len()]);
    assert_eq!(next.0, last.0 + 1);
    assert_eq!(next.2, last.2 + 1);
    assert_eq!(
        verify::database(&db, None).await.unwrap(),
        Ok(now.len() as u64)
    );
}
