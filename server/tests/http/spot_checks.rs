//! Automatic scoped demotion: rejection spikes and spot-check problems
//! drop one capability and tell the leads; only a review raises it again.

use crate::common::TestApp;
use crate::promotion::{count, ok, submit, vote};
use app::auth::Role;
use app::policy::Stage;
use serde_json::json;
use sqlx::Row;

async fn grant_stage(app: &TestApp, agent_id: &str, cap: &str) -> Option<String> {
    sqlx::query("SELECT stage FROM grants WHERE agent_id = $1 AND capability = $2")
        .bind(agent_id)
        .bind(cap)
        .fetch_one(&app.db)
        .await
        .unwrap()
        .try_get("stage")
        .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rejections_and_spot_check_problems_drop_one_capability_and_tell_the_leads() {
    let app = TestApp::spawn().await;
    for l in ["lena", "lars", "lotta"] {
        app.user(l, Role::Lead).await;
    }
    app.user("rita", Role::Reviewer).await;
    let (agent_id, key) = app.agent("refunder", Stage::ScopedAutonomy).await;
    app.grant_used(&agent_id, "crm.update_record").await;
    app.grant(&agent_id, "crm.update_record", |g| {
        g.bounds = "fields <= 4".into()
    })
    .await;
    app.grant_used(&agent_id, "tickets.comment").await;
    let rita = app.browser("rita").await;
    let lena = app.browser("lena").await;
    // No sampling until the spot-check part below (sampling less watches
    // less: a second lead approves it).
    let none = [
        ("spike_rejections", "3"),
        ("spike_window", "10"),
        ("spot_check_pct", "0"),
        ("reason", "the test samples later"),
    ];
    let v = app
        .applied(lena.rpc("trust/save_settings", &none).await)
        .await;
    assert!(crate::second_lead::proposed(&v).is_some(), "{v}");
    assert_eq!(
        submit(&app, &key, "crm.update_record", json!({"fields": 2})).await["decision"],
        "allowed"
    );

    // Two rejections are not a spike (3 of the last 10 is).
    for i in 0..3 {
        let v = submit(&app, &key, "crm.update_record", json!({"fields": 9})).await;
        assert_eq!(v["decision"], "pending_approval");
        ok(rita.reject(v["id"].as_str().unwrap(), "too much").await).await;
        let want = if i < 2 {
            None
        } else {
            Some("act_with_approval".to_string())
        };
        assert_eq!(
            grant_stage(&app, &agent_id, "crm.update_record").await,
            want,
            "after {} rejections",
            i + 1
        );
    }
    let v = submit(&app, &key, "crm.update_record", json!({"fields": 2})).await;
    assert_eq!(v["decision"], "pending_approval", "{v}");
    assert_eq!(
        submit(&app, &key, "tickets.comment", json!({})).await["decision"],
        "allowed"
    );
    let board = ok(lena.rpc("trust/dashboard", &[]).await).await;
    let notices = board["notices"].as_array().unwrap();
    assert_eq!(notices.len(), 1, "{board}");
    assert_eq!(notices[0]["kind"], "rejection_spike");
    let board = ok(rita.rpc("trust/dashboard", &[]).await).await;
    assert!(
        board["notices"].as_array().unwrap().is_empty(),
        "notices are for leads"
    );
    let notice = notices[0]["id"].as_str().unwrap();
    ok(lena.rpc("trust/clear_notice", &[("id", notice)]).await).await;
    assert_eq!(app.audit_count("notice.cleared", notice).await, 1);

    // A capability review raises it again, with a new hourly limit.
    let res = lena
        .rpc(
            "trust/open",
            &[
                ("agent_id", agent_id.as_str()),
                ("to_stage", "scoped_autonomy"),
                ("capabilities", "crm.update_record"),
                ("max_per_hour", "5"),
                ("case_text", "bound tightened upstream"),
            ],
        )
        .await;
    let id = ok(res).await.as_str().unwrap().to_string();
    ok(vote(
        &app.browser("lars").await,
        &id,
        "approve",
        "watched it for a week",
    )
    .await)
    .await;
    assert_eq!(
        grant_stage(&app, &agent_id, "crm.update_record")
            .await
            .as_deref(),
        Some("act_with_approval"),
        "two approvals"
    );
    ok(vote(&app.browser("lotta").await, &id, "approve", "agreed").await).await;
    assert_eq!(
        grant_stage(&app, &agent_id, "crm.update_record").await,
        None,
        "follows the agent again"
    );
    assert_eq!(
        submit(&app, &key, "crm.update_record", json!({"fields": 2})).await["decision"],
        "allowed"
    );

    // Spot checks: every auto-allowed action sampled.
    assert_eq!(
        lena.rpc(
            "trust/save_settings",
            &[
                ("spike_rejections", "3"),
                ("spike_window", "2"),
                ("spot_check_pct", "100")
            ]
        )
        .await
        .status(),
        422,
        "3 of 2 is no spike"
    );
    ok(lena
        .rpc(
            "trust/save_settings",
            &[
                ("spike_rejections", "3"),
                ("spike_window", "10"),
                ("spot_check_pct", "100"),
            ],
        )
        .await)
    .await;
    let fine = submit(&app, &key, "tickets.comment", json!({})).await;
    let bad = submit(&app, &key, "crm.update_record", json!({"fields": 2})).await;
    let queue = ok(rita.rpc("trust/spot_checks", &[]).await).await;
    assert_eq!(queue.as_array().unwrap().len(), 2, "{queue}");
    let (fine, bad) = (fine["id"].as_str().unwrap(), bad["id"].as_str().unwrap());
    let sponsor = app.browser("sponsor").await;
    assert_eq!(
        sponsor
            .rpc(
                "trust/spot_check",
                &[("id", fine), ("verdict", "fine"), ("note", "")]
            )
            .await
            .status(),
        403,
        "the sponsor does not clear its own agent's spot checks"
    );
    ok(rita
        .rpc(
            "trust/spot_check",
            &[("id", fine), ("verdict", "fine"), ("note", "")],
        )
        .await)
    .await;
    assert_eq!(
        rita.rpc(
            "trust/spot_check",
            &[("id", fine), ("verdict", "fine"), ("note", "")]
        )
        .await
        .status(),
        409
    );
    assert_eq!(
        rita.rpc(
            "trust/spot_check",
            &[("id", bad), ("verdict", "problem"), ("note", "")]
        )
        .await
        .status(),
        422,
        "a problem says what it was"
    );
    ok(rita
        .rpc(
            "trust/spot_check",
            &[
                ("id", bad),
                ("verdict", "problem"),
                ("note", "updated the wrong customer"),
            ],
        )
        .await)
    .await;
    assert_eq!(
        grant_stage(&app, &agent_id, "crm.update_record")
            .await
            .as_deref(),
        Some("act_with_approval")
    );
    assert_eq!(
        submit(&app, &key, "crm.update_record", json!({"fields": 2})).await["decision"],
        "pending_approval"
    );
    assert_eq!(
        submit(&app, &key, "tickets.comment", json!({})).await["decision"],
        "allowed"
    );
    // The agent then reports the same action as an incident, then nothing
    // more: it counts once, and a flag is never cleared.
    let res = app
        .agent_post(
            &key,
            bad,
            "outcome",
            Some(json!({"status": "failed", "incident": true})),
        )
        .await;
    assert_eq!(res.status(), 200);
    let record = ok(rita.rpc("trust/record", &[("agent_id", &agent_id)]).await).await;
    assert_eq!(record["metrics"]["windows"][0]["incidents"], 1);
    let flagged = ok(rita.rpc("trust/spot_checks", &[]).await).await;
    let waiting: Vec<&str> = flagged
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["id"].as_str().unwrap())
        .collect();
    assert!(
        !waiting.contains(&bad) && !waiting.contains(&fine),
        "checked ones leave the queue"
    );
    let res = app
        .agent_post(&key, fine, "outcome", Some(json!({"status": "succeeded"})))
        .await;
    assert_eq!(res.status(), 200);
    assert_eq!(
        count(
            &app,
            "SELECT COUNT(*) FROM action_requests WHERE agent_id = $1 AND incident <> 0",
            &agent_id
        )
        .await,
        1
    );
    let board = ok(lena.rpc("trust/dashboard", &[]).await).await;
    assert_eq!(board["notices"][0]["kind"], "incident", "{board}");

    // A lowered capability is raised by a review only: not by editing its
    // grant, nor by removing it and granting it again.
    let form = [
        ("agent_id", agent_id.as_str()),
        ("capability", "crm.update_record"),
        ("stage", ""),
        ("max_per_hour", ""),
        ("bounds", "fields <= 4"),
        ("targets", ""),
        ("expires_on", ""),
    ];
    let res = lena.rpc("scope/save", &form).await;
    assert_eq!(res.status(), 422);
    assert!(res.text().await.unwrap().contains("promotion review"));
    ok(lena
        .rpc(
            "scope/remove",
            &[
                ("agent_id", agent_id.as_str()),
                ("capability", "crm.update_record"),
            ],
        )
        .await)
    .await;
    assert_eq!(lena.rpc("scope/save", &form).await.status(), 422);
    assert_eq!(
        count(
            &app,
            "SELECT COUNT(*) FROM grants WHERE agent_id = $1 AND capability = 'crm.update_record'",
            &agent_id
        )
        .await,
        0,
        "no grant now"
    );
    assert_eq!(
        count(
            &app,
            "SELECT COUNT(*) FROM trust_checks WHERE agent_id = $1",
            &agent_id
        )
        .await,
        0,
        "every queued check ran"
    );
}
