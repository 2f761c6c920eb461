//! The two-person rule: every rise in trust is a change request that a
//! second lead (not the proposer, not the agent's sponsor) approves before
//! it takes effect; lowering trust stays one step; an admin may allow
//! one-person changes for a single-lead installation, and every page and
//! change then says so; the CLI registers at any stage as break-glass.

use crate::cli::{belay, text};
use crate::common::{Browser, TestApp};
use crate::promotion::{criteria, ok, vote};
use crate::second_lead::proposed;
use app::auth::Role;
use app::change::Proposed;
use app::policy::{RuleKey, Stage};

async fn grant(
    lead: &Browser,
    agent_id: &str,
    cap: &str,
    limit: &str,
    reason: &str,
) -> reqwest::Response {
    lead.rpc(
        "scope/save",
        &[
            ("agent_id", agent_id),
            ("capability", cap),
            ("stage", ""),
            ("max_per_hour", limit),
            ("bounds", ""),
            ("targets", ""),
            ("expires_on", ""),
            ("reason", reason),
        ],
    )
    .await
}

async fn state_of(app: &TestApp, change: &str) -> String {
    app.count_text(&format!(
        "SELECT state FROM change_requests WHERE id = '{change}'"
    ))
    .await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_lone_lead_cannot_raise_an_agent_a_grant_the_catalog_the_policy_or_the_criteria() {
    let app = TestApp::spawn().await;
    app.user("lena", Role::Lead).await;
    let lena = app.browser("lena").await;

    // Registering above propose: the agent starts at propose, and without
    // a reason nothing is registered at all.
    let form = |name: &'static str, reason: &'static str| {
        vec![
            ("name", name),
            ("purpose", "pays refunds"),
            ("sponsor", "lena"),
            ("stage", "scoped_autonomy"),
            ("reason", reason),
        ]
    };
    let res = lena.rpc("agents/create", &form("payer", "")).await;
    assert_eq!(res.status(), 422);
    assert!(res.text().await.unwrap().contains("another lead approves"));
    assert_eq!(app.count("SELECT COUNT(*) FROM agents").await, 0);
    let made = ok(lena
        .rpc(
            "agents/create",
            &form("payer", "it has run a month in shadow"),
        )
        .await)
    .await;
    assert_eq!(made[0]["stage"], "propose", "{made}");
    let registration = made[1]["change_id"]
        .as_str()
        .expect("a change request")
        .to_string();
    assert_eq!(state_of(&app, &registration).await, "open");

    // A new grant, a wider limit: proposed, not applied.
    let (agent, key) = app.agent("scribe", Stage::ScopedAutonomy).await;
    let g = ok(grant(&lena, &agent, "docs.summarize", "5", "it summarizes docs").await).await;
    let first = proposed(&g).expect("a new grant is a change request");
    assert_eq!(app.count("SELECT COUNT(*) FROM grants").await, 0);
    let held = app.submit_ok(&key, "docs.summarize").await;
    assert_eq!(held["decision"], "pending_approval", "{held}");
    assert!(
        held["held_for"].to_string().contains("out_of_scope"),
        "{held}"
    );

    // Narrowing applies at once (here: once the grant exists).
    app.second_lead_approves(Some(&Proposed {
        change_id: first.clone(),
        rises: vec![],
    }))
    .await;
    let narrower = ok(grant(&lena, &agent, "docs.summarize", "3", "").await).await;
    assert!(narrower.get("Applied").is_some(), "{narrower}");
    let wider = ok(grant(&lena, &agent, "docs.summarize", "50", "busy season").await).await;
    assert!(proposed(&wider).is_some(), "{wider}");
    assert!(
        wider.to_string().contains("hourly limit from 3 to 50"),
        "{wider}"
    );

    // The catalog: removing a trigger, or adding a capability without any.
    let cat = ok(lena
        .rpc(
            "catalog/save",
            &[
                ("name", "email.send"),
                ("description", "Send an email"),
                ("reason", "noise"),
            ],
        )
        .await)
    .await;
    assert!(
        cat.to_string()
            .contains("removes the external_send trigger"),
        "{cat}"
    );
    let bare = ok(lena
        .rpc(
            "catalog/save",
            &[
                ("name", "notes.write"),
                ("description", "Write a note"),
                ("reason", "harmless"),
            ],
        )
        .await)
    .await;
    assert!(proposed(&bare).is_some(), "{bare}");
    assert_eq!(
        app.count("SELECT COUNT(*) FROM capabilities WHERE name = 'notes.write'")
            .await,
        0
    );
    let risky = [
        ("name", "vault.read"),
        ("description", "Read a secret"),
        ("checked[credential_use]", "on"),
    ];
    assert!(ok(lena.rpc("catalog/save", &risky).await)
        .await
        .get("Applied")
        .is_some());

    // The policy: one relaxed rule is enough; a tighter one applies.
    let before = app.count("SELECT MAX(version) FROM policy_versions").await;
    let relaxed = app
        .save_rules_as(
            &lena,
            RuleKey::Purchase,
            |r| r.always_approve = false,
            "trusting purchases",
        )
        .await;
    assert!(proposed(&relaxed).is_some(), "{relaxed}");
    assert_eq!(
        app.count("SELECT MAX(version) FROM policy_versions").await,
        before
    );
    let tighter = app
        .save_rules_as(&lena, RuleKey::Purchase, |r| r.approvals = 2, "")
        .await;
    assert!(tighter.get("Applied").is_some(), "{tighter}");

    // Readiness criteria that ask less.
    let lower = ok(criteria(&lena, "draft", ["1", "50", "50", "5", "1", "0", "1"]).await).await;
    assert!(proposed(&lower).is_some(), "{lower}");

    // The proposer cannot approve any of it, and the agent's sponsor cannot
    // approve a rise in its agent's trust (but may reject it).
    for change in [&registration, &proposed(&wider).unwrap()] {
        let res = vote(&lena, change, "approve", "").await;
        assert_eq!(res.status(), 403, "{change}");
    }
    let sponsor = app.browser("sponsor").await;
    let res = vote(&sponsor, &proposed(&wider).unwrap(), "approve", "").await;
    assert_eq!(res.status(), 403);
    assert!(res.text().await.unwrap().contains("you sponsor this agent"));
    ok(vote(&sponsor, &proposed(&wider).unwrap(), "reject", "").await).await;
    assert_eq!(state_of(&app, &proposed(&wider).unwrap()).await, "rejected");
    assert_eq!(app.count("SELECT max_per_hour FROM grants").await, 3);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_second_lead_applies_exactly_the_reviewed_change_and_409_if_it_moved() {
    let app = TestApp::spawn().await;
    app.user("lena", Role::Lead).await;
    app.user("lars", Role::Lead).await;
    let (lena, lars) = (app.browser("lena").await, app.browser("lars").await);
    let (agent, key) = app.agent("scribe", Stage::ScopedAutonomy).await;
    app.grant_used(&agent, "docs.summarize").await;

    // Lena proposes a wider grant; Lars approves; the next request runs under it.
    let wider = grant(&lena, &agent, "email.send", "2", "it sends the summaries").await;
    let id = proposed(&ok(wider).await).unwrap();
    let detail = ok(lars.rpc("changes/get", &[("id", &id)]).await).await;
    assert_eq!(detail["created"], true, "{detail}");
    assert!(
        detail["diff"].to_string().contains("max_per_hour"),
        "{detail}"
    );
    ok(vote(&lars, &id, "approve", "").await).await;
    assert_eq!(state_of(&app, &id).await, "approved");
    assert_eq!(
        app.count("SELECT max_per_hour FROM grants WHERE capability = 'email.send'")
            .await,
        2
    );
    let next = app.submit_ok(&key, "email.send").await;
    assert!(
        !next["held_for"].to_string().contains("out_of_scope"),
        "{next}"
    );
    assert_eq!(app.audit_count("change.approved", &id).await, 1);

    // Proposed against limit 2; the grant is narrowed to 1 meanwhile (one
    // step); approving the old proposal now would apply a stale before.
    let id =
        proposed(&ok(grant(&lena, &agent, "email.send", "9", "more mail").await).await).unwrap();
    assert!(ok(grant(&lena, &agent, "email.send", "1", "").await)
        .await
        .get("Applied")
        .is_some());
    let res = vote(&lars, &id, "approve", "").await;
    assert_eq!(res.status(), 409);
    assert!(res
        .text()
        .await
        .unwrap()
        .contains("changed since this change was proposed"));
    assert_eq!(state_of(&app, &id).await, "stale");
    assert_eq!(
        app.count("SELECT max_per_hour FROM grants WHERE capability = 'email.send'")
            .await,
        1
    );

    // The policy: proposed at one version, another saved since: 409.
    let relaxed = app
        .save_rules_as(
            &lena,
            RuleKey::Purchase,
            |r| r.ttl_secs *= 2,
            "slow approvers",
        )
        .await;
    let id = proposed(&relaxed).unwrap();
    app.save_rules_as(&lars, RuleKey::Purchase, |r| r.approvals = 3, "")
        .await;
    let res = vote(&lars, &id, "approve", "").await;
    assert_eq!(res.status(), 409);
    assert!(res.text().await.unwrap().contains("the policy changed"));
    assert_eq!(state_of(&app, &id).await, "stale");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_person_changes_are_an_admins_choice_shown_and_recorded() {
    let app = TestApp::spawn().await;
    app.user("ada", Role::Admin).await;
    app.user("lena", Role::Lead).await;
    let (ada, lena) = (app.browser("ada").await, app.browser("lena").await);
    let (agent, _) = app.agent("scribe", Stage::ActWithApproval).await;
    assert_eq!(ok(lena.rpc("governance/mode", &[]).await).await, false);

    // Only an admin switches it, with a reason.
    let on = [("on", "on"), ("reason", "we are a team of one")];
    assert_eq!(lena.rpc("governance/set_mode", &on).await.status(), 403);
    assert_eq!(
        ada.rpc("governance/set_mode", &[("on", "on"), ("reason", " ")])
            .await
            .status(),
        422
    );
    ok(ada.rpc("governance/set_mode", &on).await).await;
    assert_eq!(
        app.audit_count("governance.changed", "one_person_changes")
            .await,
        1
    );
    assert_eq!(ok(lena.rpc("governance/mode", &[]).await).await, true);
    let page = lena.page("/agents").await.text().await.unwrap();
    assert!(
        page.contains("One-person changes are allowed"),
        "the banner is on every page"
    );

    // A rise applies at once, and its audit event says one person made it.
    let g = ok(grant(&lena, &agent, "docs.summarize", "", "").await).await;
    assert!(g.get("Applied").is_some(), "{g}");
    let how = app
        .count_text("SELECT detail FROM audit_events WHERE what = 'scope.granted'")
        .await;
    assert!(how.contains(r#""one_person":true"#), "{how}");

    // Off again: the next rise waits for a second lead.
    ok(ada
        .rpc(
            "governance/set_mode",
            &[("on", "off"), ("reason", "bert joined")],
        )
        .await)
    .await;
    let g = ok(grant(&lena, &agent, "email.send", "", "mail too").await).await;
    assert!(proposed(&g).is_some(), "{g}");
}

#[test]
fn the_cli_registers_at_any_stage_as_the_operators_break_glass() {
    let dir = tempfile::tempdir().unwrap();
    let db = format!("sqlite://{}/belay.db", dir.path().display());
    let out = belay(
        &db,
        &["user", "create", "--username", "lee", "--role", "lead"],
        None,
    );
    assert!(out.status.success(), "{}", text(&out));
    let args = [
        "agent",
        "create",
        "--name",
        "bot",
        "--sponsor",
        "lee",
        "--stage",
        "scoped_autonomy",
    ];
    let out = belay(&db, &args, None);
    assert!(out.status.success(), "{}", text(&out));
    assert!(text(&out).contains("Break-glass"), "{}", text(&out));
    assert!(text(&out).contains("at stage scoped_autonomy"));
    let out = belay(&db, &["audit", "export"], None);
    let created = text(&out)
        .lines()
        .find(|l| l.contains("agent.created"))
        .unwrap_or_default()
        .to_string();
    assert!(created.contains(r#""actor_id":"operator:"#), "{created}");
    assert!(created.contains(r#"\"break_glass\":true"#), "{created}");
}
