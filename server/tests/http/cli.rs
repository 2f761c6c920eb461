//! The `belay` binary's administration commands.

use std::io::Write;
use std::process::{Command, Output, Stdio};

pub(crate) fn belay(db: &str, args: &[&str], stdin: Option<&str>) -> Output {
    let mut child = Command::new(env!("CARGO_BIN_EXE_belay"))
        .args(args)
        .env("DATABASE_URL", db)
        .env("RUST_LOG", "error")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut input = child.stdin.take().unwrap();
    if let Some(s) = stdin {
        input.write_all(s.as_bytes()).unwrap();
    }
    drop(input);
    child.wait_with_output().unwrap()
}

pub(crate) fn text(o: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    )
}

#[test]
fn user_and_agent_creation_work_and_refuse_bad_input() {
    let dir = tempfile::tempdir().unwrap();
    let db = format!("sqlite://{}/belay.db", dir.path().display());

    let out = belay(&db, &["migrate"], None);
    assert!(out.status.success(), "{}", text(&out));

    let out = belay(
        &db,
        &["user", "create", "--username", "ada", "--role", "admin"],
        None,
    );
    assert!(out.status.success(), "{}", text(&out));
    assert!(text(&out).contains("Password (shown once"));

    let out = belay(
        &db,
        &[
            "user",
            "create",
            "--username",
            "lee",
            "--role",
            "lead",
            "--password-stdin",
        ],
        Some("a long enough secret\n"),
    );
    assert!(out.status.success(), "{}", text(&out));
    assert!(!text(&out).contains("a long enough secret"));

    let out = belay(
        &db,
        &["user", "create", "--username", "eve", "--role", "root"],
        None,
    );
    assert!(!out.status.success());
    assert!(text(&out).contains("unknown role"));

    let out = belay(
        &db,
        &["user", "create", "--username", "ada", "--role", "lead"],
        None,
    );
    assert!(!out.status.success());
    assert!(text(&out).contains("already exists"));

    let out = belay(
        &db,
        &[
            "user",
            "create",
            "--username",
            "sam",
            "--role",
            "lead",
            "--password-stdin",
        ],
        Some("short\n"),
    );
    assert!(!out.status.success());
    assert!(text(&out).contains("at least 12"));

    let out = belay(
        &db,
        &[
            "agent",
            "create",
            "--name",
            "invoice-bot",
            "--sponsor",
            "lee",
            "--stage",
            "act_with_approval",
        ],
        None,
    );
    assert!(out.status.success(), "{}", text(&out));
    let printed = text(&out);
    assert!(printed.contains("id: "));
    assert!(printed.contains("API key (shown once"));
    assert!(printed.contains("belay_"));

    for (args, expect) in [
        (
            vec![
                "agent",
                "create",
                "--name",
                "invoice-bot",
                "--sponsor",
                "lee",
            ],
            "already exists",
        ),
        (
            vec![
                "agent",
                "create",
                "--name",
                "ghost-bot",
                "--sponsor",
                "nobody",
            ],
            "unknown sponsor",
        ),
        (
            vec![
                "agent",
                "create",
                "--name",
                "odd-bot",
                "--sponsor",
                "lee",
                "--stage",
                "boss",
            ],
            "unknown stage",
        ),
    ] {
        let out = belay(&db, &args, None);
        assert!(!out.status.success(), "{args:?}");
        assert!(text(&out).contains(expect), "{args:?}: {}", text(&out));
    }
}

#[test]
fn a_bad_database_url_is_a_clear_error() {
    let out = belay("mysql://nowhere/db", &["migrate"], None);
    assert!(!out.status.success());
    assert!(
        text(&out).contains("unsupported database URL"),
        "{}",
        text(&out)
    );
}

#[tokio::test]
async fn demo_fills_a_fresh_database_with_every_evidence_type_and_a_history() {
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}/demo.db", dir.path().display());
    let out = belay(&url, &["demo"], None);
    assert!(out.status.success(), "{}", text(&out));
    assert!(text(&out).contains("Password: "), "{}", text(&out));

    let db = app::db::connect(&url).await.unwrap();
    let count = |sql: &'static str| {
        let db = db.clone();
        async move {
            use sqlx::Row;
            sqlx::query(sql)
                .fetch_one(&db)
                .await
                .unwrap()
                .try_get::<i64, _>(0)
                .unwrap()
        }
    };
    assert_eq!(count("SELECT COUNT(*) FROM agents").await, 5);
    assert_eq!(
        count("SELECT COUNT(DISTINCT stage) FROM agents").await,
        5,
        "one agent at each stage"
    );
    assert_eq!(
        count("SELECT COUNT(*) FROM action_requests WHERE state = 'pending_approval'").await,
        6
    );
    assert_eq!(
        count(
            "SELECT COUNT(DISTINCT e.kind) FROM evidence e \
             JOIN action_requests r ON r.id = e.action_id WHERE r.state = 'pending_approval'"
        )
        .await,
        8,
        "every evidence type is waiting in the queue"
    );
    for (state, n) in [
        (
            "SELECT COUNT(*) FROM action_requests WHERE state = 'succeeded'",
            6,
        ),
        (
            "SELECT COUNT(*) FROM action_requests WHERE state = 'failed'",
            1,
        ),
        (
            "SELECT COUNT(*) FROM action_requests WHERE state = 'rejected'",
            1,
        ),
        (
            "SELECT COUNT(*) FROM action_requests WHERE state = 'expired'",
            1,
        ),
        (
            "SELECT COUNT(*) FROM action_requests WHERE correction IS NOT NULL",
            1,
        ),
        (
            "SELECT COUNT(*) FROM action_requests WHERE state = 'drafted'",
            1,
        ),
    ] {
        assert_eq!(count(state).await, n, "{state}");
    }
    assert_eq!(
        count("SELECT COUNT(*) FROM change_requests WHERE kind = 'promotion' AND state = 'open'")
            .await,
        1,
        "a promotion review waits for a second lead"
    );
    assert_eq!(
        count("SELECT SUM(submitted) FROM action_rollups WHERE grain = 0").await,
        count("SELECT COUNT(*) FROM action_requests").await,
        "the record counts everything the demo did"
    );
    // The screenshots are real images.
    let shot: Vec<u8> = {
        use sqlx::Row;
        sqlx::query("SELECT content FROM evidence WHERE kind = 'screenshot' LIMIT 1")
            .fetch_one(&db)
            .await
            .unwrap()
            .try_get("content")
            .unwrap()
    };
    assert!(shot.starts_with(b"\x89PNG\r\n\x1a\n") && shot.len() > 1000);

    let again = belay(&url, &["demo"], None);
    assert!(!again.status.success());
    assert!(text(&again).contains("fresh database"), "{}", text(&again));
}
