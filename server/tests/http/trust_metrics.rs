//! Earning trust, measured: metrics that match the raw records, and the
//! dashboard's suggestions and what-if.

use crate::common::TestApp;
use crate::promotion::{count, criteria, held, ok, submit};
use app::auth::Role;
use app::policy::Stage;
use serde_json::{json, Value};

const DAY_MS: i64 = 86_400_000;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn metrics_match_a_direct_count_over_the_raw_records() {
    let app = TestApp::spawn().await;
    for r in ["rita", "ravi", "rosa"] {
        app.user(r, Role::Reviewer).await;
    }
    let (agent_id, key) = app.agent("clerk", Stage::ActWithApproval).await;
    app.grant_used(&agent_id, "crm.update_record").await;
    app.grant_used(&agent_id, "tickets.comment").await;
    let rita = app.browser("rita").await;
    let ravi = app.browser("ravi").await;
    let rosa = app.browser("rosa").await;

    // Approved, carried out, succeeded.
    let a = held(&app, &key, "crm.update_record").await;
    ok(rita.approve(&a).await).await;
    assert_eq!(app.agent_post(&key, &a, "claim", None).await.status(), 200);
    let res = app
        .agent_post(&key, &a, "outcome", Some(json!({"status": "succeeded"})))
        .await;
    assert_eq!(res.status(), 200);
    // Approved with an edit, carried out, failed with an incident.
    let b = held(&app, &key, "crm.update_record").await;
    let seen = ravi.seen(&b).await;
    ok(ravi
        .approve_seen(&b, &seen, Some(r#"{"field":"email"}"#))
        .await)
    .await;
    assert_eq!(app.agent_post(&key, &b, "claim", None).await.status(), 200);
    let res = app
        .agent_post(
            &key,
            &b,
            "outcome",
            Some(json!({"status": "failed", "incident": true})),
        )
        .await;
    assert_eq!(res.status(), 200);
    // Two rejections, one expiry, one still waiting.
    let c = held(&app, &key, "crm.update_record").await;
    ok(rosa.reject(&c, "wrong customer").await).await;
    let d = held(&app, &key, "crm.update_record").await;
    ok(rita.reject(&d, "not needed").await).await;
    let e = held(&app, &key, "crm.update_record").await;
    sqlx::query("UPDATE action_requests SET expires_at = 1 WHERE id = $1")
        .bind(&e)
        .execute(&app.db)
        .await
        .unwrap();
    let expired: Value = app.get_action(&key, &e, None).await.json().await.unwrap();
    assert_eq!(expired["state"], "expired");
    let _waiting = held(&app, &key, "crm.update_record").await;
    // Allowed outright, one reported.
    let f = submit(&app, &key, "tickets.comment", json!({})).await;
    assert_eq!(f["decision"], "allowed");
    let res = app
        .agent_post(
            &key,
            f["id"].as_str().unwrap(),
            "outcome",
            Some(json!({"status": "succeeded"})),
        )
        .await;
    assert_eq!(res.status(), 200);
    submit(&app, &key, "tickets.comment", json!({})).await;

    let record = ok(rita.rpc("trust/record", &[("agent_id", &agent_id)]).await).await;
    let direct = [
        ("submitted", "SELECT COUNT(*) FROM action_requests WHERE agent_id = $1"),
        ("allowed", "SELECT COUNT(*) FROM action_requests WHERE agent_id = $1 AND decision = 'allowed'"),
        ("held", "SELECT COUNT(*) FROM action_requests WHERE agent_id = $1 AND decision = 'pending_approval'"),
        ("approved", "SELECT COUNT(*) FROM action_requests WHERE agent_id = $1 AND decision = 'pending_approval' \
                      AND state IN ('approved', 'executing', 'succeeded', 'failed')"),
        ("corrected", "SELECT COUNT(*) FROM action_requests WHERE agent_id = $1 AND correction IS NOT NULL AND state <> 'rejected'"),
        ("rejected", "SELECT COUNT(*) FROM action_requests WHERE agent_id = $1 AND state = 'rejected'"),
        ("expired", "SELECT COUNT(*) FROM action_requests WHERE agent_id = $1 AND state = 'expired'"),
        ("succeeded", "SELECT COUNT(*) FROM action_requests WHERE agent_id = $1 AND state = 'succeeded'"),
        ("failed", "SELECT COUNT(*) FROM action_requests WHERE agent_id = $1 AND state = 'failed'"),
        ("incidents", "SELECT COUNT(*) FROM action_requests WHERE agent_id = $1 AND incident <> 0"),
        ("reviewers", "SELECT COUNT(*) FROM (SELECT p.user_id FROM approvals p JOIN action_requests r ON r.id = p.action_id \
                       WHERE r.agent_id = $1 UNION SELECT decided_by FROM action_requests WHERE agent_id = $1 \
                       AND state = 'rejected') people"),
    ];
    let expected = [8, 2, 6, 2, 1, 2, 1, 2, 1, 1, 3];
    for (window, figures) in record["metrics"]["windows"]
        .as_array()
        .unwrap()
        .iter()
        .enumerate()
    {
        for ((name, sql), want) in direct.iter().zip(expected) {
            let raw = count(&app, sql, &agent_id).await;
            assert_eq!(raw, want, "{name}: the scenario itself");
            assert_eq!(
                figures[name],
                json!(raw),
                "{name} in window {window}: {figures}"
            );
        }
        assert_eq!(
            figures["median_wait"],
            json!(0),
            "decided within the minute"
        );
    }
    let per_cap = &record["metrics"]["capabilities"];
    assert_eq!(per_cap[0]["capability"], "crm.update_record");
    assert_eq!(per_cap[0]["windows"][1]["submitted"], 6);
    assert_eq!(per_cap[1]["windows"][1]["allowed"], 2);
    let weeks = record["metrics"]["weeks"].as_array().unwrap();
    assert_eq!(weeks.len(), 13);
    assert_eq!(weeks[12]["rejected"], 2, "this week's bar");
    assert_eq!(record["metrics"]["history"][0]["kind"], "registered");

    // The same rollups read from a later day: the 7-day window has moved
    // past everything, 30 and 90 days still hold it; and the rollups agree
    // with a GROUP BY over the raw requests on every day.
    use app::trust::{daily, metrics};
    for later in [0, 10, 40, 100] {
        let now = app::db::now_ms() + later * DAY_MS;
        let today = now.div_euclid(DAY_MS);
        let rolled = metrics::for_agent(&app.db, &agent_id, now).await.unwrap();
        let (rows, people) = daily::raw(&app.db, &agent_id, today, 91).await.unwrap();
        let raw = daily::fold(&rows, &people, today);
        assert_eq!(rolled.windows, raw.windows, "{later} days on");
        assert_eq!(rolled.capabilities, raw.capabilities);
        assert_eq!(rolled.weeks, raw.weeks);
        let submitted: Vec<i64> = rolled.windows.iter().map(|w| w.submitted).collect();
        let want = match later {
            0 => [8, 8, 8],
            10 => [0, 8, 8],
            40 => [0, 0, 8],
            _ => [0, 0, 0],
        };
        assert_eq!(submitted, want, "{later} days on");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_dashboard_suggests_and_the_what_if_replays_the_month() {
    let app = TestApp::spawn().await;
    app.user("lena", Role::Lead).await;
    app.user("rita", Role::Reviewer).await;
    let lena = app.browser("lena").await;
    let rita = app.browser("rita").await;
    // What-if: at propose everything waits; at act_with_approval the
    // trigger-free comments would have run, one of which people rejected.
    let (scribe, key) = app.agent("scribe", Stage::Propose).await;
    app.grant(&scribe, "tickets.comment", |_| {}).await;
    for reject in [false, false, true] {
        let id = held(&app, &key, "tickets.comment").await;
        if reject {
            ok(rita.reject(&id, "wrong tone").await).await;
        } else {
            ok(rita.approve(&id).await).await;
        }
    }
    held(&app, &key, "crm.update_record").await;
    let record = ok(rita.rpc("trust/record", &[("agent_id", &scribe)]).await).await;
    let w = &record["next"]["what_if"];
    assert_eq!(record["next"]["to"], "act_with_approval");
    assert_eq!(
        (
            w["considered"].as_i64(),
            w["auto_allowed"].as_i64(),
            w["rejected"].as_i64(),
            w["still_held"].as_i64()
        ),
        (Some(4), Some(3), Some(1), Some(1)),
        "{w}"
    );

    // Brittle: 1 rejection in 3 decisions is over 20 %, but 5 decisions are needed.
    let board = ok(lena.rpc("trust/dashboard", &[]).await).await;
    assert!(board["suggestions"]["brittle"]
        .as_array()
        .unwrap()
        .is_empty());
    for _ in 0..2 {
        let id = held(&app, &key, "tickets.comment").await;
        ok(rita.approve(&id).await).await;
    }
    let board = ok(lena.rpc("trust/dashboard", &[]).await).await;
    let brittle = &board["suggestions"]["brittle"][0];
    assert_eq!(
        (brittle["capability"].as_str(), brittle["decided"].as_i64()),
        (Some("tickets.comment"), Some(5))
    );

    // Relax: 20 approvals of the same capability and target, no edits.
    let (clerk, ckey) = app.agent("clerk", Stage::ActWithApproval).await;
    app.grant_used(&clerk, "crm.update_record").await;
    for _ in 0..20 {
        let id = held(&app, &ckey, "crm.update_record").await;
        ok(rita.approve(&id).await).await;
    }
    // Ready: criteria for scoped autonomy a one-reviewer team can meet.
    app.applied(
        criteria(
            &lena,
            "scoped_autonomy",
            ["20", "95", "5", "0", "1", "0", "1"],
        )
        .await,
    )
    .await;
    let board = ok(lena.rpc("trust/dashboard", &[]).await).await;
    let relax = &board["suggestions"]["relax"][0];
    assert_eq!(
        (
            relax["agent_name"].as_str(),
            relax["target"].as_str(),
            relax["approvals"].as_i64()
        ),
        (Some("clerk"), Some("customer-42"), Some(20)),
        "{board}"
    );
    let ready: Vec<&str> = board["suggestions"]["ready"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["agent_name"].as_str().unwrap())
        .collect();
    assert_eq!(ready, ["clerk"]);
}
