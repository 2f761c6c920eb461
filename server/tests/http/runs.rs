//! Runs: agents report events into their own runs and tag actions with a
//! run; people follow a run as one timeline; escalations wait in the queue
//! until a reviewer answers them; the agent page counts stalled runs.

use crate::common::{assert_problem, TestApp};
use crate::runs_client::step_kinds;
use app::auth::Role;
use app::policy::Stage;
use serde_json::{json, Value};
use std::time::Duration;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_run_holds_its_agents_events_and_actions_and_no_one_elses() {
    let app = TestApp::spawn().await;
    app.user("alice", Role::Reviewer).await;
    let (a_id, a_key) = app.agent("crawler", Stage::ActWithApproval).await;
    let (b_id, b_key) = app.agent("other", Stage::ActWithApproval).await;

    let prompt = app
        .run_event_ok(
            &a_key,
            "task-1",
            json!({"kind": "prompt", "text": "Renew the plan"}),
        )
        .await;
    assert_eq!(prompt["run_id"], "task-1");
    assert_eq!(prompt["escalation"], Value::Null);
    app.run_event_ok(
        &a_key,
        "task-1",
        json!({"kind": "page_visited", "url": "https://crm.example/a/42", "text": "Account 42"}),
    )
    .await;
    let action = app.submit_in_run(&a_key, "task-1", "email.send").await;
    let plain = app.submit_ok(&a_key, "email.send").await;

    // The other agent's key reaches none of it; its run of the same name is its own.
    assert_problem(app.get_run(&b_key, "task-1").await, 404).await;
    let id = prompt["id"].as_str().unwrap();
    assert_problem(app.get_run_event(&b_key, "task-1", id, None).await, 404).await;
    app.run_event_ok(&b_key, "task-1", json!({"kind": "note", "text": "mine"}))
        .await;
    assert_ne!(
        app.run_id_of(&a_id, "task-1").await,
        app.run_id_of(&b_id, "task-1").await
    );

    let run: Value = app.get_run(&a_key, "task-1").await.json().await.unwrap();
    assert_eq!(run["events"].as_array().unwrap().len(), 2);
    assert_eq!(run["events"][0]["kind"], "page_visited");
    let actions = run["actions"].as_array().unwrap();
    assert_eq!(actions.len(), 1, "only the action sent with the run: {run}");
    assert_eq!(actions[0]["id"], action["id"]);
    assert_ne!(actions[0]["id"], plain["id"]);
    let mine: Value = app
        .get_run_event(&a_key, "task-1", id, None)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(mine["text"], "Renew the plan");

    // The run page shows one timeline: events, then the request.
    let alice = app.browser("alice").await;
    let res = alice
        .run_page(&app.run_id_of(&a_id, "task-1").await, None)
        .await;
    assert_eq!(res.status(), 200);
    let page: Value = res.json().await.unwrap();
    assert_eq!(step_kinds(&page), ["prompt", "page_visited", "Submitted"]);
    assert_eq!(page["run"]["agent_name"], "crawler");
    assert_eq!(
        page["run"]["waiting"][0]["href"],
        format!("/approvals/{}", action["id"].as_str().unwrap())
    );
    // The request page's "this run so far" finds it through the request.
    let res = alice
        .rpc(
            "runs/so-far",
            &[("action_id", action["id"].as_str().unwrap())],
        )
        .await;
    let so_far: Value = res.json().await.unwrap();
    assert_eq!(so_far["key"], "task-1");
    let res = alice
        .rpc(
            "runs/so-far",
            &[("action_id", plain["id"].as_str().unwrap())],
        )
        .await;
    assert_eq!(res.json::<Value>().await.unwrap(), Value::Null);
    // Only people signed in see runs.
    let anonymous = app.anonymous_browser();
    assert_eq!(
        anonymous
            .run_page(&app.run_id_of(&a_id, "task-1").await, None)
            .await
            .status(),
        401
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn events_and_run_ids_are_checked_at_the_edge() {
    let app = TestApp::spawn().await;
    let (_, key) = app.agent("crawler", Stage::ActWithApproval).await;
    let bad = [
        ("r1", json!({"kind": "plan"}), 422),
        ("r1", json!({"kind": "plan", "text": "   "}), 422),
        (
            "r1",
            json!({"kind": "page_visited", "text": "no address"}),
            422,
        ),
        (
            "r1",
            json!({"kind": "page_visited", "url": "javascript:alert(1)"}),
            422,
        ),
        (
            "r1",
            json!({"kind": "extracted_data", "text": "no data"}),
            422,
        ),
        ("r1", json!({"kind": "video", "text": "x"}), 422),
        (
            "r1",
            json!({"kind": "note", "text": "x", "html": "<b>x</b>"}),
            422,
        ),
        (
            "r1",
            json!({"kind": "note", "text": "x".repeat(10_001)}),
            422,
        ),
        (
            "r1",
            json!({"kind": "extracted_data", "data": ["x".repeat(70_000)]}),
            413,
        ),
        ("bad%20name", json!({"kind": "note", "text": "x"}), 422),
        (&"x".repeat(101), json!({"kind": "note", "text": "x"}), 422),
    ];
    for (run, body, status) in bad {
        let res = app.run_event(&key, run, body.clone()).await;
        assert_eq!(res.status().as_u16(), status, "{run} {body}");
    }
    let res = app
        .submit(
            &key,
            json!({"capability": "a.b", "target": "t", "summary": "s", "run_id": "no/slash"}),
        )
        .await;
    assert_problem(res, 422).await;
    let res = app
        .http
        .post(format!("{}/api/v1/runs/r1/events", app.base))
        .json(&json!({"kind": "note", "text": "x"}))
        .send()
        .await
        .unwrap();
    assert_problem(res, 401).await;
    assert_eq!(app.count("SELECT COUNT(*) FROM run_events").await, 0);
    assert_eq!(app.count("SELECT COUNT(*) FROM runs").await, 0);

    // Data is stored as JSON and read back as JSON, never as markup.
    let e = app
        .run_event_ok(
            &key,
            "r1",
            json!({"kind": "extracted_data", "data": {"html": "<script>x</script>"}}),
        )
        .await;
    assert_eq!(e["data"]["html"], "<script>x</script>");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_escalation_waits_in_the_queue_until_a_reviewer_answers_it() {
    let app = TestApp::spawn().await;
    app.user("alice", Role::Reviewer).await;
    app.user("audrey", Role::Auditor).await;
    let (_, key) = app.agent("crawler", Stage::ActWithApproval).await;
    let raised = app
        .run_event_ok(
            &key,
            "r1",
            json!({"kind": "escalation", "text": "The invoice total changed"}),
        )
        .await;
    let id = raised["id"].as_str().unwrap().to_string();
    assert_eq!(raised["escalation"]["state"], "open");
    assert_eq!(app.audit_count("run.escalated", &id).await, 1);

    let alice = app.browser("alice").await;
    let queue = alice.escalations().await;
    assert_eq!(queue.as_array().unwrap().len(), 1);
    assert_eq!(queue[0]["id"], id.as_str());
    assert_eq!(queue[0]["text"], "The invoice total changed");

    // The agent long-polls; the answer wakes it.
    let poll = {
        let (http, url) = (
            app.http.clone(),
            format!("{}/api/v1/runs/r1/events/{id}?wait=20", app.base),
        );
        let key = key.clone();
        tokio::spawn(async move { http.get(url).bearer_auth(key).send().await.unwrap() })
    };
    tokio::time::sleep(Duration::from_millis(300)).await;
    let audrey = app.browser("audrey").await;
    assert_eq!(audrey.answer(&id, "stop").await.status(), 403);
    assert_eq!(alice.answer(&id, "  ").await.status(), 422);
    let started = std::time::Instant::now();
    assert_eq!(
        alice
            .answer(&id, "Use the new total; it is correct")
            .await
            .status(),
        200
    );
    let answered: Value = poll.await.unwrap().json().await.unwrap();
    assert!(started.elapsed() < Duration::from_secs(10));
    assert_eq!(answered["escalation"]["state"], "answered");
    assert_eq!(
        answered["escalation"]["answer"],
        "Use the new total; it is correct"
    );

    assert_eq!(alice.answer(&id, "again").await.status(), 409);
    assert_eq!(app.audit_count("run.escalation_answered", &id).await, 1);
    assert!(alice.escalations().await.as_array().unwrap().is_empty());
    // Only escalations are answered.
    let note = app
        .run_event_ok(&key, "r1", json!({"kind": "note", "text": "x"}))
        .await;
    assert_eq!(
        alice
            .answer(note["id"].as_str().unwrap(), "no")
            .await
            .status(),
        404
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn escalations_and_event_bytes_are_bounded_per_agent() {
    let app = TestApp::spawn().await;
    let (agent_id, key) = app.agent("looper", Stage::ActWithApproval).await;
    for i in 0..app::runs::service::MAX_OPEN_ESCALATIONS {
        app.run_event_ok(
            &key,
            "r1",
            json!({"kind": "escalation", "text": format!("stuck {i}")}),
        )
        .await;
    }
    let res = app
        .run_event(
            &key,
            "r1",
            json!({"kind": "escalation", "text": "stuck again"}),
        )
        .await;
    assert_problem(res, 429).await;

    let lead = app.lead().await;
    let quotas = app::quota::limits::Overrides {
        evidence_bytes_per_day: Some(1000),
        ..Default::default()
    };
    app::quota::store::set(
        &app.db,
        &app::audit::Actor::User(lead.id),
        &agent_id,
        quotas,
    )
    .await
    .unwrap();
    let res = app
        .run_event(
            &key,
            "r1",
            json!({"kind": "note", "text": "x".repeat(2000)}),
        )
        .await;
    assert_problem(res, 429).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_agent_page_counts_runs_that_stalled_or_escalated() {
    let app = TestApp::spawn().await;
    app.user("alice", Role::Reviewer).await;
    let (agent_id, key) = app.agent("crawler", Stage::ActWithApproval).await;
    app.run_event_ok(&key, "calm", json!({"kind": "note", "text": "all fine"}))
        .await;
    let held = app.submit_in_run(&key, "held", "email.send").await;
    let esc = app
        .run_event_ok(
            &key,
            "asked",
            json!({"kind": "escalation", "text": "Which account?"}),
        )
        .await;
    let alice = app.browser("alice").await;
    assert_eq!(
        alice
            .answer(esc["id"].as_str().unwrap(), "Account 42")
            .await
            .status(),
        200
    );

    let runs = alice.agent_runs(&agent_id).await;
    assert_eq!(
        (
            runs["runs"].as_i64(),
            runs["stalled"].as_i64(),
            runs["escalated"].as_i64()
        ),
        (Some(3), Some(0), Some(1)),
        "{runs}"
    );

    // The held request has waited 31 minutes for a person: its run stalled.
    let ago = app::db::now_ms() - 31 * 60 * 1000;
    sqlx::query("UPDATE action_requests SET created_at = $1 WHERE id = $2")
        .bind(ago)
        .bind(held["id"].as_str().unwrap())
        .execute(&app.db)
        .await
        .unwrap();
    let runs = alice.agent_runs(&agent_id).await;
    assert_eq!(
        (runs["stalled"].as_i64(), runs["escalated"].as_i64()),
        (Some(1), Some(1)),
        "{runs}"
    );
    let stalled: Vec<&Value> = runs["recent"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|r| r["stalled"] == true)
        .collect();
    assert_eq!(stalled.len(), 1);
    assert_eq!(stalled[0]["key"], "held");
    let page: Value = alice
        .run_page(stalled[0]["id"].as_str().unwrap(), None)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(page["run"]["stalled"], true);
    assert!(page["run"]["waited_ms"].as_i64().unwrap() >= 31 * 60 * 1000);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_long_run_is_read_a_page_at_a_time() {
    let app = TestApp::spawn().await;
    app.user("alice", Role::Reviewer).await;
    let (agent_id, key) = app.agent("chatty", Stage::ActWithApproval).await;
    let total = app::runs::timeline::EVENTS_PER_PAGE + 5;
    for i in 0..total {
        app.run_event_ok(
            &key,
            "long",
            json!({"kind": "note", "text": format!("step {i}")}),
        )
        .await;
    }
    let run = app.run_id_of(&agent_id, "long").await;
    let alice = app.browser("alice").await;
    let mut seen = Vec::new();
    let mut from = None;
    for _ in 0..total {
        let page: Value = alice.run_page(&run, from).await.json().await.unwrap();
        let steps = page["steps"].as_array().unwrap();
        assert!(steps.len() <= app::runs::timeline::EVENTS_PER_PAGE);
        seen.extend(
            steps
                .iter()
                .map(|s| s["what"]["Event"]["text"].as_str().unwrap().to_string()),
        );
        from = page["next"].as_i64();
        if from.is_none() {
            break;
        }
    }
    let want: Vec<String> = (0..total).map(|i| format!("step {i}")).collect();
    assert_eq!(seen, want);
}
