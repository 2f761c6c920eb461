//! Earning trust through promotion reviews decided by other leads, and
//! reinstatement of a suspended agent through a review. The helpers marked
//! `pub(crate)` are shared with `trust_metrics` and `spot_checks`.

use crate::common::{Browser, TestApp};
use app::auth::Role;
use app::policy::Stage;
use serde_json::{json, Value};
use sqlx::Row;

pub(crate) async fn submit(app: &TestApp, key: &str, cap: &str, params: Value) -> Value {
    let res = app
        .submit(key, json!({"capability": cap, "target": "customer-42", "summary": "test", "params": params}))
        .await;
    assert_eq!(res.status(), 201);
    res.json().await.unwrap()
}

pub(crate) async fn held(app: &TestApp, key: &str, cap: &str) -> String {
    let v = submit(app, key, cap, json!({})).await;
    assert_eq!(v["decision"], "pending_approval", "{v}");
    v["id"].as_str().unwrap().to_string()
}

pub(crate) async fn ok(res: reqwest::Response) -> Value {
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

pub(crate) async fn vote(lead: &Browser, id: &str, verdict: &str, over: &str) -> reqwest::Response {
    lead.rpc(
        "changes/decide",
        &[
            ("id", id),
            ("verdict", verdict),
            ("reason", "looked at the record"),
            ("override_reason", over),
        ],
    )
    .await
}

pub(crate) async fn criteria(lead: &Browser, stage: &str, values: [&str; 7]) -> reqwest::Response {
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
    form.push(("reason", "the test's criteria"));
    lead.rpc("trust/save_criteria", &form).await
}

pub(crate) async fn count(app: &TestApp, sql: &str, agent_id: &str) -> i64 {
    sqlx::query(sql)
        .bind(agent_id)
        .fetch_one(&app.db)
        .await
        .unwrap()
        .try_get::<i64, _>(0)
        .unwrap()
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
    app.applied(
        criteria(
            &lena,
            "act_with_approval",
            ["3", "60", "50", "0", "3", "0", "2"],
        )
        .await,
    )
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
        lars.rpc("changes/withdraw", &[("id", &early)])
            .await
            .status(),
        409,
        "only the opener"
    );
    ok(lena.rpc("changes/withdraw", &[("id", &early)]).await).await;

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
