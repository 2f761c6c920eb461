//! The reviewer API for leads (agents, their record, promotion reviews)
//! and the back-off on refused tokens.

use super::client::{make_token, ok, ReviewApi};
use crate::common::{assert_problem, TestApp};
use app::auth::Role;
use app::policy::Stage;
use serde_json::json;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn refused_tokens_back_off_per_address() {
    let app = TestApp::spawn().await;
    app.user("rita", Role::Reviewer).await;
    let good = ReviewApi::new(
        &app,
        &make_token(&app.browser("rita").await, "ci", "read").await,
    );
    let bad = ReviewApi::new(&app, &format!("belay_pat_{}", "A".repeat(43)));
    let mut statuses = Vec::new();
    for _ in 0..102 {
        statuses.push(bad.get("/me").await.status().as_u16());
    }
    assert!(statuses[..100].iter().all(|s| *s == 401), "{statuses:?}");
    assert_eq!(&statuses[100..], [429, 429]);
    let res = bad.get("/me").await;
    assert!(res.headers().contains_key("retry-after"));
    assert_problem(res, 429).await;
    // The back-off ends; a good token works again (and a refusal while
    // backing off did not lengthen it).
    tokio::time::sleep(std::time::Duration::from_millis(1100)).await;
    assert_eq!(good.get("/me").await.status(), 200);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn leads_decide_promotion_reviews_through_the_api_under_the_browsers_rules() {
    let app = TestApp::spawn().await;
    for l in ["lena", "lars"] {
        app.user(l, Role::Lead).await;
    }
    app.user("rita", Role::Reviewer).await;
    let (agent_id, _) = app.agent("scribe", Stage::Propose).await;
    let lena_browser = app.browser("lena").await;
    let form = [
        ("agent_id", agent_id.as_str()),
        ("to_stage", "act_with_approval"),
        ("capabilities", ""),
        ("max_per_hour", ""),
        ("case_text", "it drafts well"),
    ];
    let review = ok(lena_browser.rpc("trust/open", &form).await).await;
    let review = review.as_str().unwrap().to_string();
    let token = |who: &'static str, scope: &'static str| {
        let app = &app;
        async move { ReviewApi::new(app, &make_token(&app.browser(who).await, who, scope).await) }
    };
    let (lena, lars, rita) = (
        ReviewApi::new(&app, &make_token(&lena_browser, "l", "decide").await),
        token("lars", "decide").await,
        token("rita", "decide").await,
    );
    let lars_reads = token("lars", "read").await;

    let listed = ok(lars_reads.get("/promotions").await).await;
    assert_eq!(listed[0]["id"], review.as_str());
    let shown = ok(lars_reads.get(&format!("/promotions/{review}")).await).await;
    assert_eq!(shown["row"]["criteria_met"], false);
    assert!(shown["cannot_vote"].is_null(), "{shown}");

    let approve = format!("/promotions/{review}/approve");
    let over = json!({"reason": "watched it", "override_reason": "a small, supervised start"});
    // Not the lead who opened it, not a reviewer, not with a read token.
    let detail = assert_problem(lena.post(&approve, over.clone()).await, 403).await;
    assert!(detail.contains("you proposed this change"), "{detail}");
    assert_problem(rita.post(&approve, over.clone()).await, 403).await;
    assert_problem(lars_reads.post(&approve, over.clone()).await, 403).await;
    // Unmet criteria need an override, as in the browser.
    assert_problem(lars.post(&approve, json!({"reason": "fine"})).await, 422).await;
    let done = ok(lars.post(&approve, over).await).await;
    assert_eq!(done["row"]["state"], "approved");
    assert_eq!(done["votes"][0]["by"], "lars");

    let agent = ok(lars_reads.get(&format!("/agents/{agent_id}")).await).await;
    assert_eq!(agent["agent"]["stage"], "act_with_approval");
    assert_eq!(agent["record"]["reviews"][0]["state"], "approved");
    let agents = ok(lars_reads.get("/agents").await).await;
    assert_eq!(agents[0]["name"], "scribe");
    // Another kind of change request is no promotion review.
    assert_problem(lars.get(&format!("/promotions/{agent_id}")).await, 404).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_account_page_lists_tokens_and_a_password_change_ends_them() {
    let app = TestApp::spawn().await;
    app.user("rita", Role::Reviewer).await;
    let rita = app.browser("rita").await;
    let token = make_token(&rita, "nightly triage", "read").await;
    let api = ReviewApi::new(&app, &token);
    assert_eq!(api.get("/me").await.status(), 200);
    let page = rita.page("/account").await.text().await.unwrap();
    assert!(page.contains("Personal access tokens"), "{page}");
    assert!(page.contains("nightly triage"));
    assert!(
        !page.contains(&token),
        "the secret is shown once, never listed"
    );

    // Lifetimes are bounded; there is no token without an expiry.
    for days in ["0", "366", "forever"] {
        let form = [("name", "x"), ("scope", "read"), ("expires_in_days", days)];
        assert_eq!(rita.rpc("tokens/create", &form).await.status(), 422);
    }

    // A new password ends every token made before it, as it ends sessions.
    let change = [
        ("current", crate::common::PASSWORD),
        ("new", "a brand new secret"),
    ];
    ok(rita.rpc("account/change_password", &change).await).await;
    let detail = assert_problem(api.get("/me").await, 401).await;
    assert!(detail.contains("password"), "{detail}");
    let listed = super::client::tokens(&rita).await;
    assert_eq!(listed[0]["status"], "ended");
    let fresh = ReviewApi::new(&app, &make_token(&rita, "again", "read").await);
    assert_eq!(fresh.get("/me").await.status(), 200);
}
