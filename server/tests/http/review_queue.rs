//! The review queue: its order, filters, counts and pages, and what a
//! reviewer decided.

use crate::common::TestApp;
use crate::review::{id_of, mailer, send};
use app::auth::Role;
use app::policy::Stage;
use serde_json::{json, Value};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_queue_puts_the_riskiest_first_then_the_oldest_and_pages_without_offset() {
    let app = TestApp::spawn().await;
    app.user("rita", Role::Reviewer).await;
    let (_, key) = mailer(&app, "mailer", Stage::ActWithApproval).await;
    let (cleaner_id, cleaner) = app.agent("cleaner", Stage::Propose).await;
    app.grant_used(&cleaner_id, "records.delete").await;
    let mut sends = vec![];
    for i in 0..60 {
        sends.push(id_of(&send(&app, &key, json!({"amount": i})).await));
    }
    let delete = app.submit_ok(&cleaner, "records.delete").await;
    let unknown = app.submit_ok(&cleaner, "teleport.now").await;
    let rita = app.browser("rita").await;

    let page = |form: Vec<(&'static str, String)>| {
        let rita = &rita;
        async move {
            let form: Vec<(&str, &str)> = form.iter().map(|(k, v)| (*k, v.as_str())).collect();
            let res = rita.rpc("approvals/queue", &form).await;
            assert_eq!(res.status(), 200);
            res.json::<Value>().await.unwrap()
        }
    };
    let first = page(vec![]).await;
    assert_eq!(first["waiting"], 62);
    let rows = first["rows"].as_array().unwrap();
    assert_eq!(rows.len(), 50);
    assert_eq!(rows[0]["id"], unknown["id"], "unknown capability first");
    assert_eq!(rows[1]["id"], delete["id"], "then destructive");
    assert_eq!(
        rows[2]["id"].as_str().unwrap(),
        sends[0],
        "then the oldest send"
    );
    let cursor = first["next"].as_str().unwrap().to_string();
    let second = page(vec![("after", cursor)]).await;
    let rest = second["rows"].as_array().unwrap();
    assert_eq!(rest.len(), 12);
    assert!(second["next"].is_null());
    assert_eq!(rest.last().unwrap()["id"].as_str().unwrap(), sends[59]);

    // Filters, with their counts.
    let by_stage = page(vec![("stage", "propose".into())]).await;
    assert_eq!(by_stage["matching"], 2);
    assert_eq!(by_stage["waiting"], 62);
    let by_reason = page(vec![("held_for", "destructive".into())]).await;
    assert_eq!(by_reason["matching"], 1);
    let by_agent = page(vec![
        ("agent", cleaner_id.clone()),
        ("capability", "teleport.now".into()),
    ])
    .await;
    assert_eq!(by_agent["matching"], 1);
    assert_eq!(by_agent["rows"][0]["id"], unknown["id"]);
    let res = rita.rpc("approvals/queue", &[("stage", "boss")]).await;
    assert_eq!(res.status(), 422);
    let res = rita.rpc("approvals/queue", &[("after", "1.2.3")]).await;
    assert_eq!(res.status(), 400);

    // "Decided by me".
    assert_eq!(rita.approve(&sends[3]).await.status(), 200);
    assert_eq!(rita.reject(&sends[4], "no").await.status(), 200);
    let mine: Value = rita.rpc("approvals/mine", &[]).await.json().await.unwrap();
    let verdicts: Vec<(&str, &str)> = mine
        .as_array()
        .unwrap()
        .iter()
        .map(|r| (r["id"].as_str().unwrap(), r["verdict"].as_str().unwrap()))
        .collect();
    assert_eq!(
        verdicts,
        vec![
            (sends[4].as_str(), "rejected"),
            (sends[3].as_str(), "approved")
        ]
    );
    let facets: Value = rita
        .rpc("approvals/facets", &[])
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(facets["capabilities"].as_array().unwrap().len(), 3);
}
