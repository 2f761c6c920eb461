//! Races over HTTP against the live server: many people or many retries at
//! once, and the database settles each one exactly.

use crate::common::{Browser, TestApp};
use app::auth::Role;
use app::policy::{Rule, RuleKey, Stage};
use serde_json::Value;

const REVIEWERS: usize = 50;

async fn reviewers(app: &TestApp, n: usize) -> Vec<std::sync::Arc<Browser>> {
    let mut out = Vec::with_capacity(n);
    for i in 0..n {
        let name = format!("reviewer{i:02}");
        app.user(&name, Role::Reviewer).await;
        out.push(std::sync::Arc::new(app.browser(&name).await));
    }
    out
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
async fn fifty_reviewers_deciding_one_request_make_exactly_one_decision_a_hundred_times() {
    let app = TestApp::spawn().await;
    let people = reviewers(&app, REVIEWERS).await;
    let key = mailer(&app).await;
    for round in 0..100 {
        let id = pending(&app, &key).await;
        let seen = people[0].seen(&id).await;
        let mut set = tokio::task::JoinSet::new();
        for (i, person) in people.iter().enumerate() {
            let (person, id, seen) = (person.clone(), id.clone(), seen.clone());
            // Half approve, half reject: either way, one decision.
            set.spawn(async move {
                let res = if i % 2 == 0 {
                    person.approve_seen(&id, &seen, None).await
                } else {
                    person
                        .rpc(
                            "approvals/reject",
                            &[("id", &id), ("seen", &seen), ("reason", "no")],
                        )
                        .await
                };
                res.status().as_u16()
            });
        }
        let statuses = set.join_all().await;
        let ok = statuses.iter().filter(|s| **s == 200).count();
        let conflicts = statuses.iter().filter(|s| **s == 409).count();
        assert_eq!(
            (ok, conflicts),
            (1, REVIEWERS - 1),
            "round {round}: {statuses:?}"
        );
        let decisions = app.audit_count("action.approved", &id).await
            + app.audit_count("action.rejected", &id).await;
        assert_eq!(decisions, 1, "round {round}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn fifty_concurrent_claims_of_one_approval_let_exactly_one_through() {
    let app = TestApp::spawn().await;
    app.user("rita", Role::Reviewer).await;
    let rita = app.browser("rita").await;
    let key = mailer(&app).await;
    for round in 0..20 {
        let id = pending(&app, &key).await;
        assert_eq!(rita.approve(&id).await.status(), 200);
        let mut set = tokio::task::JoinSet::new();
        for _ in 0..50 {
            let req = app
                .http
                .post(format!("{}/api/v1/actions/{id}/claim", app.base))
                .bearer_auth(&key);
            set.spawn(async move { req.send().await.unwrap().status().as_u16() });
        }
        let statuses = set.join_all().await;
        let ok = statuses.iter().filter(|s| **s == 200).count();
        let conflicts = statuses.iter().filter(|s| **s == 409).count();
        assert_eq!((ok, conflicts), (1, 49), "round {round}: {statuses:?}");
        assert_eq!(app.audit_count("action.claimed", &id).await, 1);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn expiry_racing_an_approval_never_ends_in_both() {
    let app = TestApp::spawn().await;
    app.user("rita", Role::Reviewer).await;
    let rita = std::sync::Arc::new(app.browser("rita").await);
    let key = mailer(&app).await;
    app.edit_rules(|rules| {
        for k in [RuleKey::ExternalSend, RuleKey::CustomerVisible] {
            let r = rules.get(k);
            rules.set(k, Rule { ttl_secs: 1, ..r }).unwrap();
        }
    })
    .await;
    for round in 0..15 {
        let id = pending(&app, &key).await;
        let seen = rita.seen(&id).await;
        // Aim both at the deadline: the approval and an agent's read (which
        // expires an overdue request when it touches it).
        tokio::time::sleep(std::time::Duration::from_millis(980)).await;
        let approve = {
            let (rita, id, seen) = (rita.clone(), id.clone(), seen.clone());
            tokio::spawn(async move { rita.approve_seen(&id, &seen, None).await.status().as_u16() })
        };
        let touch = app.get_action(&key, &id, None);
        let (approved, touched) = tokio::join!(approve, touch);
        let final_state: Value = touched.json().await.unwrap();
        let state: Value = app.get_action(&key, &id, None).await.json().await.unwrap();
        let approved_events = app.audit_count("action.approved", &id).await;
        let expired_events = app.audit_count("action.expired", &id).await;
        assert_eq!(
            approved_events + expired_events,
            1,
            "round {round}: {state}"
        );
        match state["state"].as_str().unwrap() {
            "approved" => assert_eq!((approved.unwrap(), approved_events), (200, 1)),
            "expired" => assert_eq!((approved.unwrap(), expired_events), (409, 1)),
            other => panic!("round {round}: {other} ({final_state})"),
        }
    }
}

/// The writer decides a batch on the index it has cached and learns in the
/// same commit whether the policy moved meanwhile: a change made behind
/// its back (here straight in the database, as another replica's would
/// be before its notice arrives) is never decided on the old index.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_batch_decided_on_a_stale_index_is_decided_again_on_the_current_one() {
    let app = TestApp::spawn().await;
    let (agent_id, key) = app.agent("summarizer", Stage::ActWithApproval).await;
    app.grant_used(&agent_id, "docs.summarize").await;
    assert_eq!(
        app.submit_ok(&key, "docs.summarize").await["decision"],
        "allowed"
    );
    let epoch = app
        .count("SELECT value FROM policy_epoch WHERE id = 1")
        .await;
    assert_eq!(app.state.policy.cached().map(|i| i.epoch), Some(epoch));
    for statement in [
        format!("DELETE FROM grants WHERE agent_id = '{agent_id}'"),
        "UPDATE policy_epoch SET value = value + 1 WHERE id = 1".to_string(),
    ] {
        sqlx::query(&statement).execute(&app.db).await.unwrap();
    }
    let sent = app.submit_ok(&key, "docs.summarize").await;
    assert_ne!(sent["decision"], "allowed", "{sent}");
    assert_eq!(
        app.state.policy.cached().map(|i| i.epoch),
        Some(epoch + 1),
        "the batch read the current index"
    );
    let id = sent["id"].as_str().unwrap();
    assert_eq!(app.audit_count("action.submitted", id).await, 1);
}
