//! Losing trust: demotion at once, and the kill switch.

use crate::common::TestApp;
use app::auth::Role;
use app::policy::Stage;
use serde_json::{json, Value};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_lead_demotes_at_once_and_never_promotes_this_way() {
    let app = TestApp::spawn().await;
    app.user("rita", Role::Reviewer).await;
    let (agent_id, key) = app.agent("mailer", Stage::ScopedAutonomy).await;
    app.grant_used(&agent_id, "email.send").await;
    assert_eq!(
        app.submit_ok(&key, "email.send").await["decision"],
        "allowed"
    );

    let lead = app.browser("sponsor").await;
    let demote = |stage: &'static str, reason: &'static str| {
        let lead = &lead;
        let agent_id = agent_id.clone();
        async move {
            lead.rpc(
                "agents/demote",
                &[
                    ("agent_id", agent_id.as_str()),
                    ("stage", stage),
                    ("reason", reason),
                ],
            )
            .await
            .status()
            .as_u16()
        }
    };
    assert_eq!(
        demote("act_with_approval", "").await,
        422,
        "a reason is required"
    );
    assert_eq!(
        demote("act_with_approval", "sent to the wrong list").await,
        200
    );
    assert_eq!(
        app.submit_ok(&key, "email.send").await["decision"],
        "pending_approval"
    );
    // Approved while at act_with_approval, then demoted to propose: the
    // approval no longer lets the agent carry it out.
    let held = app.submit_ok(&key, "email.send").await["id"]
        .as_str()
        .unwrap()
        .to_string();
    assert_eq!(app.browser("rita").await.approve(&held).await.status(), 200);
    assert_eq!(demote("propose", "mis-sent twice").await, 200);
    let claim = app.agent_post(&key, &held, "claim", None).await;
    let detail = crate::common::assert_problem(claim, 403).await;
    assert!(detail.contains("demoted"), "{detail}");
    assert_eq!(
        demote("scoped_autonomy", "trust it again").await,
        422,
        "never raises"
    );
    assert_eq!(demote("propose", "again").await, 422, "same stage");
    let rita = app.browser("rita").await;
    let res = rita
        .rpc(
            "agents/demote",
            &[
                ("agent_id", &agent_id),
                ("stage", "observe"),
                ("reason", "x"),
            ],
        )
        .await;
    assert_eq!(res.status(), 403);
    assert_eq!(app.audit_count("agent.demoted", &agent_id).await, 2);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_kill_switch_refuses_revokes_and_cancels_in_one_step() {
    let app = TestApp::spawn().await;
    let (agent_id, key) = app.agent("runaway", Stage::ActWithApproval).await;
    let (_, bystander) = app.agent("bystander", Stage::ActWithApproval).await;
    let mut pending = vec![];
    for _ in 0..3 {
        pending.push(
            app.submit_ok(&key, "email.send").await["id"]
                .as_str()
                .unwrap()
                .to_string(),
        );
    }
    let theirs = app.submit_ok(&bystander, "email.send").await;

    let lead = app.browser("sponsor").await;
    // Approved (by a reviewer: sponsors never approve their own agents'
    // requests) but not yet claimed: cancelled too, never carried out.
    app.user("rita", Role::Reviewer).await;
    let rita = app.browser("rita").await;
    assert_eq!(rita.approve(&pending[0]).await.status(), 200);
    let res = lead
        .rpc(
            "agents/suspend",
            &[
                ("agent_id", &agent_id),
                ("reason", "sending to every customer"),
            ],
        )
        .await;
    assert_eq!(res.status(), 200);
    let done: Value = res.json().await.unwrap();
    assert_eq!(done, json!({"keys_revoked": 1, "requests_cancelled": 3}));

    // The very next submission is refused; nothing of it is recorded.
    let before = app.count("SELECT COUNT(*) FROM action_requests").await;
    let res = app
        .submit(
            &key,
            json!({"capability": "email.send", "target": "t", "summary": "one more"}),
        )
        .await;
    assert!(
        matches!(res.status().as_u16(), 401 | 403),
        "{}",
        res.status()
    );
    assert_eq!(
        app.count("SELECT COUNT(*) FROM action_requests").await,
        before
    );
    for id in &pending {
        let state = app
            .count(&format!(
                "SELECT COUNT(*) FROM action_requests WHERE id = '{id}' AND state = 'cancelled'"
            ))
            .await;
        assert_eq!(state, 1);
        assert_eq!(app.audit_count("action.cancelled", id).await, 1);
    }
    // Other agents are untouched.
    let other: Value = app
        .get_action(&bystander, theirs["id"].as_str().unwrap(), None)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(other["state"], "pending_approval");
    assert_eq!(app.audit_count("agent.suspended", &agent_id).await, 1);
    let again = lead
        .rpc(
            "agents/suspend",
            &[("agent_id", &agent_id), ("reason", "again")],
        )
        .await;
    assert_eq!(again.status(), 409);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_incident_drops_that_capability_to_act_with_approval_and_nothing_else() {
    let app = TestApp::spawn().await;
    let (agent_id, key) = app.agent("docs", Stage::ScopedAutonomy).await;
    app.grant_used(&agent_id, "crm.update_record").await;
    app.grant_used(&agent_id, "tickets.comment").await;
    // A risky capability that scoped autonomy allows outright.
    let done = app.submit_ok(&key, "crm.update_record").await;
    assert_eq!(done["decision"], "allowed");
    let id = done["id"].as_str().unwrap();
    let res = app
        .agent_post(&key, id, "outcome", Some(json!({"status": "failed", "incident": true, "details": "overwrote the wrong customer's record"})))
        .await;
    assert_eq!(res.status(), 200);

    let next = app.submit_ok(&key, "crm.update_record").await;
    assert_eq!(next["decision"], "pending_approval", "{next}");
    assert_eq!(next["stage"], "act_with_approval");
    assert_eq!(
        app.submit_ok(&key, "tickets.comment").await["decision"],
        "allowed"
    );
    assert_eq!(app.audit_count("scope.demoted", &agent_id).await, 1);
}
