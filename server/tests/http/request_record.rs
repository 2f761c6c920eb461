//! The request page's record of the agent with the capability: read from
//! the rollups, and equal at every step to the same record counted over the
//! requests themselves — through approvals, edits, rejections, expiries,
//! cancels, outcomes and a suspension, for requests made on other days,
//! weeks and years than the ones they were decided on.

use crate::common::{Browser, TestApp};
use crate::promotion::{held, ok, submit};
use app::actions::record;
use app::actions::Record;
use app::auth::Role;
use app::policy::{RuleKey, Stage};
use app::trust::rollup::{self, Counts, DAY_MS};
use serde_json::{json, Value};
use sqlx::Row;

/// Moves a request just submitted `days` back, together with its
/// submission's count in the rollups, as if the writer had taken it then.
async fn backdate(app: &TestApp, id: &str, days: i64) {
    let mut tx = app.db.begin().await.unwrap();
    let row = sqlx::query(
        "SELECT agent_id, capability, decision, created_at FROM action_requests WHERE id = $1",
    )
    .bind(id)
    .fetch_one(&mut *tx)
    .await
    .unwrap();
    let (agent, cap): (String, String) = (row.get("agent_id"), row.get("capability"));
    let created: i64 = row.get("created_at");
    let then = created - days * DAY_MS;
    let counted = |n: i64| {
        let mut c = Counts {
            submitted: n,
            ..Counts::default()
        };
        match row.get::<String, _>("decision").as_str() {
            "allowed" => c.allowed = n,
            "pending_approval" => c.held = n,
            other => panic!("not backdated: {other}"),
        }
        c
    };
    rollup::add(&mut tx, &agent, &cap, created, &counted(-1))
        .await
        .unwrap();
    rollup::add(&mut tx, &agent, &cap, then, &counted(1))
        .await
        .unwrap();
    sqlx::query("UPDATE action_requests SET created_at = $1, updated_at = $1 WHERE id = $2")
        .bind(then)
        .bind(id)
        .execute(&mut *tx)
        .await
        .unwrap();
    tx.commit().await.unwrap();
}

/// The record the request page shows for `id`, checked against the direct
/// count and against what the scenario did (`want`: total, approved,
/// corrected, rejected, expired, allowed, failed).
async fn check(app: &TestApp, reader: &Browser, id: &str, want: [i64; 7], when: &str) {
    let page = ok(reader.rpc("approvals/get", &[("id", id)]).await).await;
    let shown: Record = serde_json::from_value(page["record"].clone()).unwrap();
    let action = &page["action"];
    let agent: String = app
        .count_text(&format!(
            "SELECT agent_id FROM action_requests WHERE id = '{id}'"
        ))
        .await;
    let counted = record::counted(&app.db, &agent, action["capability"].as_str().unwrap())
        .await
        .unwrap();
    assert_eq!(shown, counted, "{when}: the rollups against the requests");
    let [total, approved, corrected, rejected, expired, allowed, failed] = want;
    let want = Record {
        total,
        approved,
        corrected,
        rejected,
        expired,
        allowed,
        failed,
    };
    assert_eq!(shown, want, "{when}: the scenario itself");
}

async fn claim_and_report(app: &TestApp, key: &str, id: &str, outcome: &str) {
    assert_eq!(app.agent_post(key, id, "claim", None).await.status(), 200);
    let res = app
        .agent_post(key, id, "outcome", Some(json!({ "status": outcome })))
        .await;
    assert_eq!(res.status(), 200, "{}", res.text().await.unwrap());
}

async fn expire(app: &TestApp, key: &str, id: &str) -> Value {
    sqlx::query("UPDATE action_requests SET expires_at = 1 WHERE id = $1")
        .bind(id)
        .execute(&app.db)
        .await
        .unwrap();
    app.get_action(key, id, None).await.json().await.unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_request_pages_record_from_the_rollups_matches_a_direct_count() {
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
    let waiting = held(&app, &key, "crm.update_record").await;
    check(
        &app,
        &rita,
        &waiting,
        [1, 0, 0, 0, 0, 0, 0],
        "first request",
    )
    .await;

    // Made a year ago, last week and yesterday; decided today.
    let (a, b, c) = (
        held(&app, &key, "crm.update_record").await,
        held(&app, &key, "crm.update_record").await,
        held(&app, &key, "crm.update_record").await,
    );
    for (id, days) in [(&a, 400), (&b, 8), (&c, 1)] {
        backdate(&app, id, days).await;
    }
    ok(rita.approve(&a).await).await;
    claim_and_report(&app, &key, &a, "succeeded").await;
    let seen = ravi.seen(&b).await;
    ok(ravi
        .approve_seen(&b, &seen, Some(r#"{"field":"email"}"#))
        .await)
    .await;
    claim_and_report(&app, &key, &b, "failed").await;
    ok(rosa.reject(&c, "wrong customer").await).await;
    check(&app, &rita, &waiting, [4, 2, 1, 1, 0, 0, 1], "decided").await;

    // Waited out; cancelled by the agent; approved and left unclaimed past
    // its window (still an approval).
    let d = held(&app, &key, "crm.update_record").await;
    assert_eq!(expire(&app, &key, &d).await["state"], "expired");
    let e = held(&app, &key, "crm.update_record").await;
    assert_eq!(app.agent_post(&key, &e, "cancel", None).await.status(), 200);
    let f = held(&app, &key, "crm.update_record").await;
    backdate(&app, &f, 3).await;
    ok(rita.approve(&f).await).await;
    sqlx::query("UPDATE action_requests SET claim_by = 1 WHERE id = $1")
        .bind(&f)
        .execute(&app.db)
        .await
        .unwrap();
    assert_eq!(app.agent_post(&key, &f, "claim", None).await.status(), 409);
    assert_eq!(
        app.get_action(&key, &f, None)
            .await
            .json::<Value>()
            .await
            .unwrap()["state"],
        "expired"
    );
    check(
        &app,
        &rita,
        &waiting,
        [7, 3, 1, 1, 1, 0, 1],
        "expired and cancelled",
    )
    .await;

    // Two approvals needed: an edit that a second reviewer rejects, and
    // one that no second reviewer approves in time, are no corrections.
    app.edit_rules(|rules| {
        let mut r = rules.get(RuleKey::ProductionWrite);
        r.approvals = 2;
        rules.set(RuleKey::ProductionWrite, r).unwrap();
    })
    .await;
    for fate in ["rejected", "expired"] {
        let g = held(&app, &key, "crm.update_record").await;
        let seen = ravi.seen(&g).await;
        let one = ok(ravi
            .approve_seen(&g, &seen, Some(r#"{"field":"phone"}"#))
            .await)
        .await;
        assert_eq!(one["state"], "pending_approval");
        if fate == "rejected" {
            ok(rosa.reject(&g, "not this one").await).await;
        } else {
            assert_eq!(expire(&app, &key, &g).await["state"], "expired");
        }
    }
    // Two approvals, the first with an edit: one corrected approval.
    let h = held(&app, &key, "crm.update_record").await;
    backdate(&app, &h, 2).await;
    let seen = ravi.seen(&h).await;
    ok(ravi
        .approve_seen(&h, &seen, Some(r#"{"field":"name"}"#))
        .await)
    .await;
    ok(rita.approve(&h).await).await;
    check(
        &app,
        &rita,
        &waiting,
        [10, 4, 2, 2, 2, 0, 1],
        "two approvals",
    )
    .await;

    // Allowed outright: another capability, its own record.
    let mut allowed = vec![];
    for (days, outcome) in [(0, Some("succeeded")), (9, Some("failed")), (30, None)] {
        let v = submit(&app, &key, "tickets.comment", json!({})).await;
        assert_eq!(v["decision"], "allowed");
        let id = v["id"].as_str().unwrap().to_string();
        backdate(&app, &id, days).await;
        if let Some(outcome) = outcome {
            let res = app
                .agent_post(&key, &id, "outcome", Some(json!({ "status": outcome })))
                .await;
            assert_eq!(res.status(), 200);
        }
        allowed.push(id);
    }
    check(&app, &rita, &allowed[0], [3, 0, 0, 0, 0, 3, 1], "allowed").await;

    // The kill switch cancels what waits and what was approved unclaimed:
    // the approval still counts.
    let j = held(&app, &key, "crm.update_record").await;
    ok(rita.approve(&j).await).await;
    ok(rosa.approve(&j).await).await;
    let lead = app.lead().await;
    let lena = app.browser(&lead.username).await;
    ok(lena
        .rpc(
            "agents/suspend",
            &[("agent_id", &agent_id), ("reason", "test")],
        )
        .await)
    .await;
    assert_eq!(
        app.count_text(&format!(
            "SELECT state FROM action_requests WHERE id = '{j}'"
        ))
        .await,
        "cancelled"
    );
    check(&app, &rita, &waiting, [11, 5, 2, 2, 2, 0, 1], "suspended").await;
    check(
        &app,
        &rita,
        &allowed[2],
        [3, 0, 0, 0, 0, 3, 1],
        "allowed, suspended",
    )
    .await;
}
