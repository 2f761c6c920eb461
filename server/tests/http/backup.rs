//! `belay backup` while the server takes submissions, `belay restore` into
//! a fresh place, and what each refuses.

use crate::cli::{belay, text};
use crate::common::TestApp;
use app::policy::Stage;
use reqwest::StatusCode;
use serde_json::json;
use sqlx::{Connection, Row};
use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// Runs `belay` off the runtime's threads, so the server keeps serving.
async fn run(db: &str, args: &[&str]) -> std::process::Output {
    let (db, args): (String, Vec<String>) =
        (db.into(), args.iter().map(|a| a.to_string()).collect());
    tokio::task::spawn_blocking(move || {
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        belay(&db, &args, None)
    })
    .await
    .unwrap()
}

fn file_of(url: &str) -> PathBuf {
    PathBuf::from(url.trim_start_matches("sqlite://"))
}

/// PostgreSQL is backed up with its own tools; both commands say which.
async fn postgres_is_sent_to_its_tools(app: &TestApp) {
    let out = run(&app.db_url, &["backup", "/tmp/never-written.db"]).await;
    assert!(!out.status.success());
    assert!(text(&out).contains("pg_dump -Fc"), "{}", text(&out));
    let out = run(&app.db_url, &["restore", "/tmp/never-read.db"]).await;
    assert!(!out.status.success());
    assert!(text(&out).contains("pg_restore"), "{}", text(&out));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_backup_under_load_restores_with_everything_acknowledged_before_it() {
    let app = TestApp::spawn_with(|s| {
        s.submissions_per_minute = std::num::NonZeroU32::MAX;
    })
    .await;
    if !app.db_url.starts_with("sqlite:") {
        return postgres_is_sent_to_its_tools(&app).await;
    }
    let (_, key) = app.agent("loader", Stage::Draft).await;
    let stop = Arc::new(AtomicBool::new(false));
    let mut load = Vec::new();
    for w in 0..8 {
        let (http, base, key, stop) = (
            app.http.clone(),
            app.base.clone(),
            key.clone(),
            stop.clone(),
        );
        load.push(tokio::spawn(async move {
            let mut acked = Vec::new();
            let mut i = 0;
            while !stop.load(Ordering::Relaxed) {
                i += 1;
                let res = http
                    .post(format!("{base}/api/v1/actions"))
                    .bearer_auth(&key)
                    .json(
                        &json!({"capability": "crm.update_record", "target": format!("c-{w}-{i}"),
                                  "summary": "load during a backup"}),
                    )
                    .send()
                    .await
                    .unwrap();
                assert_eq!(res.status(), StatusCode::CREATED);
                let v: serde_json::Value = res.json().await.unwrap();
                let (id, decision) = (v["id"].as_str().unwrap(), v["decision"].as_str().unwrap());
                acked.push((id.to_string(), decision.to_string(), Instant::now()));
            }
            acked
        }));
    }
    tokio::time::sleep(Duration::from_millis(700)).await;
    let dir = tempfile::tempdir().unwrap();
    let copy = dir.path().join("belay-backup.db");
    let started = Instant::now();
    let out = run(&app.db_url, &["backup", copy.to_str().unwrap()]).await;
    let finished = Instant::now();
    assert!(out.status.success(), "{}", text(&out));
    assert!(text(&out).contains("Backed up"), "{}", text(&out));
    assert!(
        text(&out).contains("Newest audit event: #"),
        "{}",
        text(&out)
    );
    tokio::time::sleep(Duration::from_millis(300)).await;
    stop.store(true, Ordering::Relaxed);
    let mut acked = Vec::new();
    for t in load {
        acked.extend(t.await.unwrap());
    }
    let before: Vec<_> = acked.iter().filter(|(_, _, at)| *at < started).collect();
    let after = acked.iter().filter(|(_, _, at)| *at > finished).count();
    eprintln!(
        "backup under load: {} acknowledged before it, {} while it ran, {after} after",
        before.len(),
        acked.len() - before.len() - after
    );
    assert!(
        !before.is_empty() && after > 0,
        "load ran before and after the backup"
    );

    let target = format!("sqlite://{}/restored/belay.db", dir.path().display());
    let out = run(&target, &["restore", copy.to_str().unwrap()]).await;
    assert!(out.status.success(), "{}", text(&out));
    assert!(
        text(&out).contains("its audit chain holds"),
        "{}",
        text(&out)
    );

    let restored = app::db::connect(&target).await.unwrap();
    let chain = app::audit::verify::database(&restored, None).await.unwrap();
    assert!(chain.is_ok(), "{chain:?}");
    let stored: HashMap<String, String> = sqlx::query("SELECT id, decision FROM action_requests")
        .fetch_all(&restored)
        .await
        .unwrap()
        .iter()
        .map(|r| (r.get("id"), r.get("decision")))
        .collect();
    let audited: std::collections::HashSet<String> =
        sqlx::query("SELECT subject_id FROM audit_events WHERE what = 'action.submitted'")
            .fetch_all(&restored)
            .await
            .unwrap()
            .iter()
            .map(|r| r.get("subject_id"))
            .collect();
    for (id, decision, _) in &before {
        assert_eq!(
            stored.get(id),
            Some(decision),
            "request {id} is in the backup"
        );
        assert!(
            audited.contains(id),
            "request {id}'s audit row is in the backup"
        );
    }
    // The copy is one moment: no request without its audit row, or back.
    assert_eq!(stored.len(), audited.len());
    restored.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn backup_and_restore_refuse_what_would_lose_data() {
    let app = TestApp::spawn().await;
    if !app.db_url.starts_with("sqlite:") {
        return postgres_is_sent_to_its_tools(&app).await;
    }
    let (_, key) = app.agent("bot", Stage::Draft).await;
    app.submit_ok(&key, "crm.update_record").await;
    let dir = tempfile::tempdir().unwrap();
    let copy = dir.path().join("b.db");
    let copy_s = copy.to_str().unwrap();
    let out = run(&app.db_url, &["backup", copy_s]).await;
    assert!(out.status.success(), "{}", text(&out));

    // Never overwrites, not even its own earlier copy.
    let before = std::fs::read(&copy).unwrap();
    let out = run(&app.db_url, &["backup", copy_s]).await;
    assert!(!out.status.success());
    assert!(text(&out).contains("already exists"), "{}", text(&out));
    assert_eq!(std::fs::read(&copy).unwrap(), before);

    // The database the server is using is not replaced under it...
    let out = run(&app.db_url, &["restore", copy_s]).await;
    assert!(!out.status.success());
    assert!(text(&out).contains("is in use"), "{}", text(&out));
    // ...and a live database file is not taken for a backup.
    let live = file_of(&app.db_url);
    let elsewhere = format!("sqlite://{}/elsewhere.db", dir.path().display());
    let out = run(&elsewhere, &["restore", live.to_str().unwrap()]).await;
    assert!(!out.status.success());
    assert!(text(&out).contains("live database"), "{}", text(&out));

    let target = format!("sqlite://{}/t/belay.db", dir.path().display());
    let refused = async |file: &Path, says: &str| {
        let out = run(&target, &["restore", file.to_str().unwrap()]).await;
        assert!(!out.status.success(), "{}", text(&out));
        assert!(text(&out).contains(says), "{}", text(&out));
        assert!(!file_of(&target).exists(), "nothing was installed");
    };
    let altered = |name: &str, sql: &'static str| {
        let path = dir.path().join(name);
        std::fs::copy(&copy, &path).unwrap();
        async move {
            let mut c = sqlx::SqliteConnection::connect(&format!("sqlite://{}", path.display()))
                .await
                .unwrap();
            sqlx::raw_sql(sql).execute(&mut c).await.unwrap();
            c.close().await.unwrap();
            path
        }
    };
    let tampered = altered(
        "tampered.db",
        "UPDATE audit_events SET detail = '{}' WHERE chain_no = 2",
    )
    .await;
    refused(&tampered, "audit trail is broken").await;
    let future = altered(
        "future.db",
        "INSERT INTO _sqlx_migrations (version, description, success, checksum, execution_time) \
         VALUES (9999, 'from the future', 1, x'00', 0)",
    )
    .await;
    refused(&future, "does not know").await;
    let cut = dir.path().join("cut.db");
    std::fs::write(&cut, &before[..before.len() / 2]).unwrap();
    refused(&cut, "damaged").await;

    // Restoring over a stopped database keeps that one beside the new.
    let out = run(&target, &["restore", copy_s]).await;
    assert!(out.status.success(), "{}", text(&out));
    let out = run(&target, &["restore", copy_s]).await;
    assert!(out.status.success(), "{}", text(&out));
    assert!(text(&out).contains(".before-restore-"), "{}", text(&out));
    let kept = std::fs::read_dir(dir.path().join("t"))
        .unwrap()
        .filter_map(|e| e.ok())
        .filter(|e| e.file_name().to_string_lossy().contains(".before-restore-"))
        .count();
    assert_eq!(kept, 1);
    let out = run(&target, &["audit", "verify"]).await;
    assert!(out.status.success(), "{}", text(&out));
}

async fn page_size(url: &str) -> i64 {
    let mut c = sqlx::SqliteConnection::connect(url).await.unwrap();
    let size = sqlx::query_scalar("PRAGMA page_size")
        .fetch_one(&mut c)
        .await
        .unwrap();
    c.close().await.unwrap();
    size
}

/// A database made before Belay chose its page size keeps SQLite's 4 KiB
/// (WAL cannot change it); its backup has Belay's, and restoring that
/// backup is how it changes, with nothing lost.
#[tokio::test]
async fn a_backup_has_belays_page_size_and_restoring_it_converts_an_older_database() {
    let dir = tempfile::tempdir().unwrap();
    let old = format!("sqlite://{}/old.db", dir.path().display());
    let mut c = sqlx::SqliteConnection::connect(&format!("{old}?mode=rwc"))
        .await
        .unwrap();
    sqlx::raw_sql(
        "PRAGMA page_size = 4096; PRAGMA journal_mode = WAL; CREATE TABLE t (x); DROP TABLE t",
    )
    .execute(&mut c)
    .await
    .unwrap();
    c.close().await.unwrap();
    for args in [
        &["migrate"][..],
        &["user", "create", "--username", "lee", "--role", "lead"],
        &["agent", "create", "--name", "bot", "--sponsor", "lee"],
    ] {
        let out = run(&old, args).await;
        assert!(out.status.success(), "{args:?}: {}", text(&out));
    }
    assert_eq!(
        page_size(&old).await,
        4096,
        "an existing database keeps its pages"
    );
    let head = run(&old, &["audit", "head"]).await;
    assert!(head.status.success(), "{}", text(&head));

    let copy = dir.path().join("copy.db");
    let out = run(&old, &["backup", copy.to_str().unwrap()]).await;
    assert!(out.status.success(), "{}", text(&out));
    let copy_url = format!("sqlite://{}", copy.display());
    assert_eq!(
        page_size(&copy_url).await,
        i64::from(app::db::NEW_PAGE_SIZE)
    );

    let out = run(&old, &["restore", copy.to_str().unwrap()]).await;
    assert!(out.status.success(), "{}", text(&out));
    assert_eq!(page_size(&old).await, i64::from(app::db::NEW_PAGE_SIZE));
    // The same trail, and it still verifies.
    let restored = run(&old, &["audit", "head"]).await;
    assert!(restored.status.success(), "{}", text(&restored));
    assert_eq!(text(&restored), text(&head));
    let out = run(&old, &["audit", "verify"]).await;
    assert!(out.status.success(), "{}", text(&out));
    let out = run(&old, &["agent", "quota", "--name", "bot"]).await;
    assert!(
        out.status.success(),
        "the agent came through: {}",
        text(&out)
    );
}
