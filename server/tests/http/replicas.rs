//! Two replicas — two servers in this process, each with its own state, as
//! two `belay serve` would be — on one PostgreSQL database behave as one
//! Belay: the database settles every race across them, and a change on one
//! reaches the other's long-polls, live queue and policy cache at once
//! (LISTEN/NOTIFY, not the fallback re-read). These skip on SQLite, where
//! there is one server process; the upkeep tests run on both.

use crate::common::{Browser, TestApp};
use app::auth::Role;
use app::db::now_ms;
use app::policy::{Rule, RuleKey, Stage};
use app::replicas::feed::{EVERYTHING, HEARING_REREAD};
use serde_json::{json, Value};
use std::time::{Duration, Instant};

fn on_postgres() -> bool {
    std::env::var("BELAY_TEST_POSTGRES").is_ok_and(|s| !s.is_empty())
}

/// Two replicas on one fresh database, each hearing the other; None (the
/// test passes, saying why) on SQLite.
pub async fn two_replicas() -> Option<(TestApp, TestApp)> {
    if !on_postgres() {
        eprintln!("skipped: two replicas need PostgreSQL (set BELAY_TEST_POSTGRES)");
        return None;
    }
    let a = TestApp::spawn().await;
    let b = a.replica().await;
    for app in [&a, &b] {
        let since = Instant::now();
        while !app.state.changes.hearing(now_ms()) {
            assert!(
                since.elapsed() < Duration::from_secs(10),
                "a replica never heard itself"
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        // Hearing: a long-poll's fallback re-read is far off, so a wake-up
        // within a second can only come from the other replica's notice.
        assert_eq!(app.state.changes.reread_every(), HEARING_REREAD);
    }
    Some((a, b))
}

/// An agent at act_with_approval whose email.send is past its first use.
async fn mailer(app: &TestApp) -> String {
    let (id, key) = app.agent("mailer", Stage::ActWithApproval).await;
    app.grant_used(&id, "email.send").await;
    key
}

async fn pending(app: &TestApp, key: &str) -> String {
    let sent = app.submit_ok(key, "email.send").await;
    assert_eq!(sent["decision"], "pending_approval");
    sent["id"].as_str().unwrap().to_string()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn reviewers_on_two_replicas_approving_at_once_count_distinct_people_and_decide_once() {
    let Some((a, b)) = two_replicas().await else {
        return;
    };
    a.edit_rules(|rules| {
        for k in [RuleKey::ExternalSend, RuleKey::CustomerVisible] {
            let r = rules.get(k);
            rules.set(k, Rule { approvals: 2, ..r }).unwrap();
        }
    })
    .await;
    // Six people, each signed in on both replicas.
    let mut people: Vec<std::sync::Arc<Browser>> = Vec::new();
    for i in 0..6 {
        let name = format!("reviewer{i}");
        a.user(&name, Role::Reviewer).await;
        people.push(a.browser(&name).await.into());
        people.push(b.browser(&name).await.into());
    }
    let key = mailer(&a).await;
    for round in 0..10 {
        let id = pending(if round % 2 == 0 { &a } else { &b }, &key).await;
        let seen = people[0].seen(&id).await;
        let mut set = tokio::task::JoinSet::new();
        for person in &people {
            let (person, id, seen) = (person.clone(), id.clone(), seen.clone());
            set.spawn(async move {
                person
                    .approve_seen(&id, &seen, None)
                    .await
                    .status()
                    .as_u16()
            });
        }
        let statuses = set.join_all().await;
        let ok = statuses.iter().filter(|s| **s == 200).count();
        let conflicts = statuses.iter().filter(|s| **s == 409).count();
        // Two distinct approvals decide it; everyone else, and anyone's
        // second try from the other replica, is told it is taken.
        assert_eq!((ok, conflicts), (2, 10), "round {round}: {statuses:?}");
        assert_eq!(a.audit_count("action.approval_added", &id).await, 1);
        assert_eq!(a.audit_count("action.approved", &id).await, 1);
        let people_counted = a
            .count(&format!(
                "SELECT COUNT(DISTINCT user_id) FROM approvals WHERE action_id = '{id}'"
            ))
            .await;
        let approvals = a
            .count(&format!(
                "SELECT COUNT(*) FROM approvals WHERE action_id = '{id}'"
            ))
            .await;
        assert_eq!((people_counted, approvals), (2, 2), "round {round}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn claims_on_two_replicas_let_exactly_one_through() {
    let Some((a, b)) = two_replicas().await else {
        return;
    };
    a.user("rita", Role::Reviewer).await;
    let rita = b.browser("rita").await;
    let key = mailer(&a).await;
    for round in 0..10 {
        let id = pending(&a, &key).await;
        assert_eq!(rita.approve(&id).await.status(), 200);
        let mut set = tokio::task::JoinSet::new();
        for i in 0..20 {
            let app = if i % 2 == 0 { &a } else { &b };
            let req = app
                .http
                .post(format!("{}/api/v1/actions/{id}/claim", app.base))
                .bearer_auth(&key);
            set.spawn(async move { req.send().await.unwrap().status().as_u16() });
        }
        let statuses = set.join_all().await;
        let ok = statuses.iter().filter(|s| **s == 200).count();
        let conflicts = statuses.iter().filter(|s| **s == 409).count();
        assert_eq!((ok, conflicts), (1, 19), "round {round}: {statuses:?}");
        assert_eq!(a.audit_count("action.claimed", &id).await, 1);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn an_approval_on_one_replica_wakes_a_long_poll_on_the_other_within_a_second() {
    let Some((a, b)) = two_replicas().await else {
        return;
    };
    a.user("rita", Role::Reviewer).await;
    let rita = b.browser("rita").await;
    let key = mailer(&a).await;
    for round in 0..3 {
        let id = pending(&a, &key).await;
        let poll = a
            .http
            .get(format!("{}/api/v1/actions/{id}?wait=20", a.base))
            .bearer_auth(&key)
            .send();
        let poll = tokio::spawn(async move {
            let res = poll.await.unwrap();
            (Instant::now(), res.json::<Value>().await.unwrap())
        });
        // Let it settle into its wait.
        tokio::time::sleep(Duration::from_millis(300)).await;
        assert!(
            !poll.is_finished(),
            "round {round}: the long-poll did not wait"
        );
        assert_eq!(rita.approve(&id).await.status(), 200);
        let approved = Instant::now();
        let (woke, body) = poll.await.unwrap();
        assert_eq!(body["state"], "approved", "round {round}");
        let late = woke.saturating_duration_since(approved);
        assert!(
            late < Duration::from_secs(1),
            "round {round}: woke {late:?} after the approval"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_submission_on_one_replica_reaches_the_live_queue_on_the_other_at_once() {
    let Some((a, b)) = two_replicas().await else {
        return;
    };
    a.user("rita", Role::Reviewer).await;
    let rita = a.browser("rita").await;
    let mut stream = rita
        .http
        .get(format!("{}/approvals/events", a.base))
        .send()
        .await
        .unwrap();
    assert_eq!(stream.status(), 200);
    let key = mailer(&a).await;
    let id = pending(&b, &key).await;
    let sent = Instant::now();
    let heard = tokio::time::timeout(Duration::from_secs(1), async {
        let mut seen = String::new();
        while let Some(chunk) = stream.chunk().await.unwrap() {
            seen.push_str(&String::from_utf8_lossy(&chunk));
            if seen.contains(&id) {
                return;
            }
        }
        panic!("the stream ended: {seen}");
    })
    .await;
    assert!(
        heard.is_ok(),
        "not on the other replica's live queue after {:?}",
        sent.elapsed()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_policy_change_on_one_replica_reaches_the_others_cache_at_once() {
    let Some((a, b)) = two_replicas().await else {
        return;
    };
    a.user("lena", Role::Lead).await;
    let (agent_id, key) = a.agent("writer", Stage::Propose).await;
    let me = b
        .http
        .get(format!("{}/api/v1/me", b.base))
        .bearer_auth(&key);
    assert_eq!(me.send().await.unwrap().status(), 200, "b caches the index");
    let form = [
        ("agent_id", agent_id.as_str()),
        ("submissions_per_minute", "1"),
        ("pending", ""),
        ("evidence_bytes_per_day", ""),
        ("long_polls", ""),
    ];
    let lena = a.browser("lena").await;
    assert_eq!(lena.rpc("quota/set", &form).await.status(), 200);
    let changed = Instant::now();
    let epoch = a.count("SELECT value FROM policy_epoch WHERE id = 1").await;
    // Nothing asks b anything meanwhile: only the notice can reload it.
    while b.state.policy.cached().map(|i| i.epoch) != Some(epoch) {
        assert!(
            changed.elapsed() < Duration::from_secs(1),
            "b still has the old policy"
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    // b's pre-check (before the body is read) already knows the new quota.
    let body = json!({"capability": "docs.summarize", "target": "t", "summary": "s"});
    assert_eq!(b.submit(&key, body.clone()).await.status(), 201);
    assert_eq!(b.submit(&key, body).await.status(), 429);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_replica_that_lost_its_listener_rereads_everything_and_hears_again() {
    let Some((a, b)) = two_replicas().await else {
        return;
    };
    let mut changes = a.state.changes.subscribe();
    let cut = a
        .count(
            "SELECT COUNT(*) FROM pg_stat_activity WHERE datname = current_database() \
             AND query LIKE 'LISTEN%' AND pg_terminate_backend(pid)",
        )
        .await;
    assert_eq!(cut, 2, "each replica's listener");
    // What was sent meanwhile is lost: every listener re-reads.
    let everything = tokio::time::timeout(Duration::from_secs(5), async {
        while changes.recv().await.unwrap() != EVERYTHING {}
    });
    assert!(
        everything.await.is_ok(),
        "no re-read after the connection dropped"
    );
    let since = Instant::now();
    while !a.state.changes.hearing(now_ms()) {
        assert!(
            since.elapsed() < Duration::from_secs(15),
            "never heard itself again"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let key = mailer(&a).await;
    let id = pending(&b, &key).await;
    let heard = tokio::time::timeout(Duration::from_secs(1), async {
        while changes.recv().await.unwrap() != id {}
    });
    assert!(
        heard.await.is_ok(),
        "b's change did not reach a after the reconnect"
    );
}

/// The other replica where there can be one, else the same server again.
async fn other(a: &TestApp) -> Option<TestApp> {
    if on_postgres() {
        Some(a.replica().await)
    } else {
        None
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn upkeep_runs_once_a_period_however_many_replicas_ask() {
    let a = TestApp::spawn().await;
    let b = other(&a).await;
    let dbs = [a.db.clone(), b.as_ref().unwrap_or(&a).db.clone()];
    let later = now_ms() + 60_000;
    let mut set = tokio::task::JoinSet::new();
    for i in 0..10 {
        let db = dbs[i % 2].clone();
        set.spawn(async move { app::replicas::claim_upkeep(&db, later).await.unwrap() });
    }
    let claimed = set.join_all().await.into_iter().filter(|c| *c).count();
    assert_eq!(claimed, 1);
    assert!(!app::replicas::claim_upkeep(&dbs[1], later + 10_000)
        .await
        .unwrap());
    assert!(app::replicas::claim_upkeep(&dbs[1], later + 15_000)
        .await
        .unwrap());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn two_expiry_sweeps_at_once_expire_each_request_once() {
    let a = TestApp::spawn().await;
    let b = other(&a).await;
    let key = mailer(&a).await;
    a.edit_rules(|rules| {
        for k in [RuleKey::ExternalSend, RuleKey::CustomerVisible] {
            let r = rules.get(k);
            rules.set(k, Rule { ttl_secs: 1, ..r }).unwrap();
        }
    })
    .await;
    let mut ids = Vec::new();
    for _ in 0..20 {
        ids.push(pending(&a, &key).await);
    }
    tokio::time::sleep(Duration::from_millis(1100)).await;
    let states = [a.state.clone(), b.as_ref().unwrap_or(&a).state.clone()];
    let (one, two) = tokio::join!(
        app::actions::service::expire_due(&states[0]),
        app::actions::service::expire_due(&states[1])
    );
    assert_eq!(one.unwrap() + two.unwrap(), ids.len());
    for id in &ids {
        assert_eq!(a.audit_count("action.expired", id).await, 1);
    }
}
