//! Test helpers for the two-person rule: a second lead ("second", neither
//! proposer nor sponsor) approves what a test's lead proposed, so tests
//! about other things go on with the change applied.

use crate::common::{Browser, TestApp};
use crate::promotion::ok;
use app::auth::{users, Role};
use app::change::Proposed;
use app::policy::ruleset::duration;
use app::policy::{Rule, RuleKey, Rules};
use serde_json::Value;

impl TestApp {
    pub async fn count_text(&self, sql: &str) -> String {
        use sqlx::Row;
        let row = sqlx::query(sql).fetch_one(&self.db).await.unwrap();
        row.try_get(0).unwrap()
    }

    /// The current policy version and its rules.
    pub async fn current_rules(&self) -> (i64, Rules) {
        let current = app::rules::store::current(&self.db).await.unwrap();
        let mut rules = Rules::defaults();
        for r in &current.rules {
            let rule = app::policy::Rule {
                approvals: r.approvals,
                ttl_secs: app::policy::ruleset::parse_duration(&r.wait).unwrap(),
                always_approve: r.always_approve,
                sponsor_may_approve: r.sponsor_may_approve,
                claim_secs: app::policy::ruleset::parse_duration(&r.claim).unwrap(),
            };
            rules.set(r.key, rule).unwrap();
        }
        (current.version, rules)
    }

    /// What a lead proposed that raises trust, approved by another lead
    /// ("second", neither proposer nor sponsor), as the two-person rule asks.
    pub async fn second_lead_approves(&self, proposed: Option<&Proposed>) {
        let Some(p) = proposed else { return };
        if users::find_by_username(&self.db, "second")
            .await
            .unwrap()
            .is_none()
        {
            self.user("second", Role::Lead).await;
        }
        let second = users::find_by_username(&self.db, "second")
            .await
            .unwrap()
            .unwrap();
        let ballot = app::governance::decide::Ballot::Approve {
            reason: "looks right".into(),
            override_reason: None,
        };
        app::governance::decide::vote(&self.state, &second, &p.change_id, ballot)
            .await
            .expect("second lead approves");
    }

    /// Saves the current rules with one rule edited, as `lead` in the browser.
    pub async fn save_rules_as(
        &self,
        lead: &Browser,
        key: RuleKey,
        edit: impl FnOnce(&mut Rule),
        note: &str,
    ) -> Value {
        let (version, mut rules) = self.current_rules().await;
        let mut rule = rules.get(key);
        edit(&mut rule);
        rules.set(key, rule).unwrap();
        let mut form: Vec<(String, String)> = vec![
            ("base_version".into(), version.to_string()),
            ("note".into(), note.into()),
        ];
        for (k, r) in rules.iter() {
            form.push((format!("fields[approvals-{k}]"), r.approvals.to_string()));
            form.push((format!("fields[wait-{k}]"), duration(r.ttl_secs)));
            form.push((format!("fields[claim-{k}]"), duration(r.claim_secs)));
            if r.always_approve {
                form.push((format!("fields[always-{k}]"), "on".into()));
            }
            if r.sponsor_may_approve {
                form.push((format!("fields[sponsor-{k}]"), "on".into()));
            }
        }
        let pairs: Vec<(&str, &str)> = form.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
        ok(lead.rpc("policy/save", &pairs).await).await
    }

    /// A save's answer; if it became a change request, a second lead
    /// approves it, so the test goes on with the change applied.
    pub async fn applied(&self, res: reqwest::Response) -> Value {
        let v = ok(res).await;
        if let Some(id) = proposed(&v) {
            self.second_lead_approves(Some(&Proposed {
                change_id: id,
                rises: vec![],
            }))
            .await;
        }
        v
    }
}

/// The change request a save answered with, if it became one.
pub(crate) fn proposed(v: &Value) -> Option<String> {
    v["Proposed"]["change_id"].as_str().map(str::to_string)
}
