//! Earning trust: metrics that match the raw records, promotion reviews
//! decided by other leads, reinstatement, automatic scoped demotion, spot
//! checks, suggestions and the what-if.

use crate::common::{Browser, TestApp};
use app::auth::Role;
use app::policy::Stage;
use serde_json::{json, Value};
use sqlx::Row;

const DAY_MS: i64 = 86_400_000;

async fn submit(app: &TestApp, key: &str, cap: &str, params: Value) -> Value {
    let res = app
        .submit(key, json!({"capability": cap, "target": "customer-42", "summary": "test", "params": params}))
        .await;
    assert_eq!(res.status(), 201);
    res.json().await.unwrap()
}

async fn held(app: &TestApp, key: &str, cap: &str) -> String {
    let v = submit(app, key, cap, json!({})).await;
    assert_eq!(v["decision"], "pending_approval", "{v}");
    v["id"].as_str().unwrap().to_string()
}

async fn ok(res: reqwest::Response) -> Value {
    let status = res.status();
    let text = res.text().await.unwrap();
    assert_eq!(status, 200, "{text}");
    serde_json::from_str(&text).unwrap_or(Value::Null)
}

async fn stage_of(app: &TestApp, agent_id: &str) -> String {
    sqlx::query("SELECT stage FROM agents WHERE id = $1")
        .bind(agent_id)
        .fetch_one(&app.db)
        .await
        .unwrap()
        .try_get("stage")
        .unwrap()
}

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

async fn open(
    lead: &Browser,
    agent_id: &str,
    to: &str,
    caps: &str,
    case: &str,
) -> reqwest::Response {
    lead.rpc(
        "trust/open",
        &[
            ("agent_id", agent_id),
            ("to_stage", to),
            ("capabilities", caps),
            ("max_per_hour", ""),
            ("case_text", case),
        ],
    )
    .await
}

async fn vote(lead: &Browser, id: &str, verdict: &str, over: &str) -> reqwest::Response {
    lead.rpc(
        "trust/decide",
        &[
            ("id", id),
            ("verdict", verdict),
            ("reason", "looked at the record"),
            ("override_reason", over),
        ],
    )
    .await
}

async fn criteria(lead: &Browser, stage: &str, values: [&str; 7]) -> reqwest::Response {
    let names = [
        "min_decisions",
        "min_approved_pct",
        "max_corrected_pct",
        "max_incidents",
        "min_reviewers",
        "min_days_at_stage",
        "approvals_needed",
    ];
    let mut form = vec![("stage", stage)];
    form.extend(names.iter().copied().zip(values));
    lead.rpc("trust/save_criteria", &form).await
}

async fn count(app: &TestApp, sql: &str, agent_id: &str) -> i64 {
    sqlx::query(sql)
        .bind(agent_id)
        .fetch_one(&app.db)
        .await
        .unwrap()
        .try_get::<i64, _>(0)
        .unwrap()
}

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
    use app::trust::metrics;
    for later in [0, 10, 40, 100] {
        let now = app::db::now_ms() + later * DAY_MS;
        let today = now.div_euclid(DAY_MS);
        let rolled = metrics::for_agent(&app.db, &agent_id, now).await.unwrap();
        let (rows, people) = metrics::raw(&app.db, &agent_id, today, 91).await.unwrap();
        let raw = metrics::fold(&rows, &people, today);
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
async fn other_leads_promote_against_frozen_criteria_and_the_stage_changes_at_once() {
    let app = TestApp::spawn().await;
    for l in ["lena", "lars", "lotta"] {
        app.user(l, Role::Lead).await;
    }
    for r in ["rita", "ravi", "rosa"] {
        app.user(r, Role::Reviewer).await;
    }
    let (agent_id, key) = app.agent("scribe", Stage::Propose).await;
    let (lena, lars, lotta) = (
        app.browser("lena").await,
        app.browser("lars").await,
        app.browser("lotta").await,
    );
    let sponsor = app.browser("sponsor").await;
    let rita = app.browser("rita").await;
    assert_eq!(
        criteria(
            &rita,
            "act_with_approval",
            ["3", "60", "50", "0", "3", "0", "2"]
        )
        .await
        .status(),
        403,
        "reviewers do not set criteria"
    );
    assert_eq!(
        criteria(
            &lena,
            "act_with_approval",
            ["3", "101", "50", "0", "3", "0", "2"]
        )
        .await
        .status(),
        422
    );
    ok(criteria(
        &lena,
        "act_with_approval",
        ["3", "60", "50", "0", "3", "0", "2"],
    )
    .await)
    .await;

    // No record yet: the criteria are not met, and approving needs an override.
    let early = ok(open(&lena, &agent_id, "act_with_approval", "", "it drafts well").await).await;
    let early = early.as_str().unwrap().to_string();
    let detail = ok(lars.rpc("trust/review", &[("id", &early)]).await).await;
    assert_eq!(detail["row"]["criteria_met"], false);
    let decisions = &detail["snapshot"]["checks"][0];
    assert_eq!(
        (decisions["actual"].as_str(), decisions["met"].as_bool()),
        (Some("0"), Some(false))
    );
    assert_eq!(vote(&lars, &early, "approve", "").await.status(), 422);
    assert_eq!(
        open(&lena, &agent_id, "act_with_approval", "", "again")
            .await
            .status(),
        409,
        "one open review per agent"
    );
    assert_eq!(
        lars.rpc("trust/withdraw", &[("id", &early)]).await.status(),
        409,
        "only the opener"
    );
    ok(lena.rpc("trust/withdraw", &[("id", &early)]).await).await;

    // A record: three approvals by three reviewers.
    for name in ["rita", "ravi", "rosa"] {
        let id = held(&app, &key, "crm.update_record").await;
        ok(app.browser(name).await.approve(&id).await).await;
    }
    assert_eq!(
        open(&lena, &agent_id, "propose", "", "x").await.status(),
        422,
        "a promotion raises the stage"
    );
    let id = ok(open(
        &lena,
        &agent_id,
        "act_with_approval",
        "",
        "three clean approvals",
    )
    .await)
    .await;
    let id = id.as_str().unwrap().to_string();
    let detail = ok(lars.rpc("trust/review", &[("id", &id)]).await).await;
    assert_eq!(
        detail["row"]["criteria_met"], true,
        "{}",
        detail["snapshot"]["checks"]
    );
    assert_eq!(detail["snapshot"]["figures"][1]["reviewers"], 3);

    for (who, why) in [
        (&lena, "the opener"),
        (&sponsor, "the sponsor"),
        (&rita, "a reviewer"),
    ] {
        assert_eq!(
            vote(who, &id, "approve", "").await.status(),
            403,
            "{why} cannot approve"
        );
    }
    ok(vote(&lars, &id, "approve", "").await).await;
    assert_eq!(
        stage_of(&app, &agent_id).await,
        "propose",
        "needs two approvals"
    );
    assert_eq!(
        vote(&lars, &id, "approve", "").await.status(),
        409,
        "once per lead"
    );
    ok(vote(&lotta, &id, "approve", "").await).await;
    assert_eq!(stage_of(&app, &agent_id).await, "act_with_approval");
    let detail = ok(lars.rpc("trust/review", &[("id", &id)]).await).await;
    assert_eq!(detail["row"]["state"], "approved");
    assert_eq!(detail["votes"].as_array().unwrap().len(), 2);
    assert_eq!(
        vote(&sponsor, &id, "reject", "").await.status(),
        409,
        "closed"
    );
    assert_eq!(app.audit_count("agent.promoted", &agent_id).await, 1);
    let v = submit(&app, &key, "tickets.comment", json!({})).await;
    assert_eq!(v["stage"], "act_with_approval");
    let record = ok(rita.rpc("trust/record", &[("agent_id", &agent_id)]).await).await;
    let latest = &record["metrics"]["history"][0];
    assert_eq!(
        (latest["kind"].as_str(), latest["to"].as_str()),
        (Some("promoted"), Some("act_with_approval"))
    );
    assert_eq!(latest["review_id"], json!(id));

    // One stage at a time unless an override says otherwise; the sponsor
    // may reject.
    let (drafter, _) = app.agent("drafter", Stage::Draft).await;
    let skip = ok(open(&lena, &drafter, "act_with_approval", "", "skip ahead").await).await;
    let skip = skip.as_str().unwrap().to_string();
    let res = vote(&lars, &skip, "approve", "").await;
    assert_eq!(res.status(), 422);
    let detail = res.text().await.unwrap();
    assert!(detail.contains("skips a stage"), "{detail}");
    ok(vote(&sponsor, &skip, "reject", "").await).await;
    let detail = ok(lars.rpc("trust/review", &[("id", &skip)]).await).await;
    assert_eq!(detail["row"]["state"], "rejected");
    assert_eq!(stage_of(&app, &drafter).await, "draft");
    let skip = ok(open(
        &lena,
        &drafter,
        "act_with_approval",
        "",
        "skip ahead, really",
    )
    .await)
    .await;
    let skip = skip.as_str().unwrap().to_string();
    ok(vote(
        &lars,
        &skip,
        "approve",
        "drafts reviewed by hand for a quarter",
    )
    .await)
    .await;
    ok(vote(&lotta, &skip, "approve", "agreed").await).await;
    assert_eq!(stage_of(&app, &drafter).await, "act_with_approval");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_suspended_agent_comes_back_only_through_a_review() {
    let app = TestApp::spawn().await;
    app.user("lena", Role::Lead).await;
    app.user("lars", Role::Lead).await;
    let (agent_id, key) = app.agent("courier", Stage::Propose).await;
    let lena = app.browser("lena").await;
    let lars = app.browser("lars").await;
    ok(lena
        .rpc(
            "agents/suspend",
            &[("agent_id", &agent_id), ("reason", "leaked a draft")],
        )
        .await)
    .await;
    let refused = app
        .submit(
            &key,
            json!({"capability": "tickets.comment", "target": "t", "summary": "s"}),
        )
        .await;
    assert!(refused.status() == 401 || refused.status() == 403);
    let id = ok(open(&lena, &agent_id, "propose", "", "root cause fixed").await).await;
    let id = id.as_str().unwrap().to_string();
    let detail = ok(lars.rpc("trust/review", &[("id", &id)]).await).await;
    assert_eq!(detail["row"]["reinstate"], true);
    // Default criteria for propose want 7 days at the stage.
    assert_eq!(vote(&lars, &id, "approve", "").await.status(), 422);
    ok(vote(&lars, &id, "approve", "incident reviewed; key rotated").await).await;
    let status: String = sqlx::query("SELECT status FROM agents WHERE id = $1")
        .bind(&agent_id)
        .fetch_one(&app.db)
        .await
        .unwrap()
        .try_get("status")
        .unwrap();
    assert_eq!(status, "active");
    assert_eq!(app.audit_count("agent.reinstated", &agent_id).await, 1);
    // Its old keys stay revoked: a lead issues a new one.
    let res = app
        .submit(
            &key,
            json!({"capability": "tickets.comment", "target": "t", "summary": "s"}),
        )
        .await;
    assert_eq!(res.status(), 401);
    let key = ok(lena
        .rpc(
            "agents/issue_key",
            &[("agent_id", &agent_id), ("expires_in_days", "")],
        )
        .await)
    .await;
    let v = submit(
        &app,
        key["secret"].as_str().unwrap(),
        "tickets.comment",
        json!({}),
    )
    .await;
    assert_eq!(v["decision"], "pending_approval");
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
    // No sampling until the spot-check part below.
    ok(lena
        .rpc(
            "trust/save_settings",
            &[
                ("spike_rejections", "3"),
                ("spike_window", "10"),
                ("spot_check_pct", "0"),
            ],
        )
        .await)
    .await;
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
    ok(lena
        .rpc(
            "trust/clear_notice",
            &[("id", notices[0]["id"].as_str().unwrap())],
        )
        .await)
    .await;

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
    ok(criteria(
        &lena,
        "scoped_autonomy",
        ["20", "95", "5", "0", "1", "0", "1"],
    )
    .await)
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
