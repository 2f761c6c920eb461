//! Policy rules: for each reason an action can be held, how many distinct
//! approvals it needs, how long it may wait, whether it pauses even
//! autonomous agents, whether the agent's sponsor may be an approver, and
//! how long an approval stays good. Leads edit them; every edit is a new
//! version.

use super::rule_key::RuleKey;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

pub const MAX_APPROVALS: u8 = 3;
pub const MAX_TTL_SECS: i64 = 365 * 24 * 60 * 60;
/// How long an approval stays good, unless a rule says otherwise.
pub const DEFAULT_CLAIM_SECS: i64 = 60 * 60;
pub const MAX_CLAIM_SECS: i64 = 30 * 24 * 60 * 60;

fn default_claim_secs() -> i64 {
    DEFAULT_CLAIM_SECS
}

/// One rule.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Rule {
    /// Distinct approvals needed, 1–3.
    pub approvals: u8,
    /// How long a held request may wait before it expires (expiry means no).
    pub ttl_secs: i64,
    /// Pause even agents at scoped autonomy (triggers only).
    pub always_approve: bool,
    /// The agent's sponsor may be one of the approvers. Never by default:
    /// absent (rules saved before this setting existed) means barred.
    #[serde(default)]
    pub sponsor_may_approve: bool,
    /// How long an approval stays good: an approved request not claimed by
    /// then expires. Absent in rules saved before it existed: an hour.
    #[serde(default = "default_claim_secs")]
    pub claim_secs: i64,
}

impl Rule {
    /// Used for a held action when the stored rules cannot be read.
    pub const FALLBACK: Rule = Rule {
        approvals: 1,
        ttl_secs: 24 * 60 * 60,
        always_approve: true,
        sponsor_may_approve: false,
        claim_secs: DEFAULT_CLAIM_SECS,
    };

    pub fn validate(&self, key: RuleKey) -> Result<(), String> {
        if !(1..=MAX_APPROVALS).contains(&self.approvals) {
            return Err(format!(
                "{}: approvals must be 1 to {MAX_APPROVALS}",
                key.as_str()
            ));
        }
        if !(1..=MAX_TTL_SECS).contains(&self.ttl_secs) {
            return Err(format!(
                "{}: the wait must be between 1 second and 365 days",
                key.as_str()
            ));
        }
        if !(60..=MAX_CLAIM_SECS).contains(&self.claim_secs) {
            return Err(format!(
                "{}: an approval must stay good between 1 minute and 30 days",
                key.as_str()
            ));
        }
        if self.always_approve && !key.is_trigger() {
            return Err(format!(
                "{}: only risk triggers can be marked always approve; this one always pauses autonomous agents",
                key.as_str()
            ));
        }
        Ok(())
    }
}

/// A complete rule set: one rule per key, looked up by position.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rules {
    rules: [Rule; RuleKey::ALL.len()],
}

impl Rules {
    /// What a fresh installation starts with (policy v1).
    pub fn defaults() -> Rules {
        let day = 24 * 60 * 60;
        let mut rules = [Rule {
            approvals: 1,
            ttl_secs: day,
            always_approve: false,
            sponsor_may_approve: false,
            claim_secs: DEFAULT_CLAIM_SECS,
        }; RuleKey::ALL.len()];
        for key in [RuleKey::Destructive, RuleKey::Purchase] {
            rules[key.index()].always_approve = true;
        }
        Rules { rules }
    }

    pub fn get(&self, key: RuleKey) -> Rule {
        self.rules[key.index()]
    }

    pub fn set(&mut self, key: RuleKey, rule: Rule) -> Result<(), String> {
        rule.validate(key)?;
        self.rules[key.index()] = rule;
        Ok(())
    }

    /// Whether the sponsor may approve a request held for `held_for`: only
    /// when every rule that held it says so.
    pub fn sponsor_may_approve(&self, held_for: &[RuleKey]) -> bool {
        !held_for.is_empty() && held_for.iter().all(|k| self.get(*k).sponsor_may_approve)
    }

    /// How long an approval of a request held for `held_for` stays good:
    /// the shortest window of the rules that held it.
    pub fn claim_secs(&self, held_for: &[RuleKey]) -> i64 {
        held_for
            .iter()
            .map(|k| self.get(*k).claim_secs)
            .min()
            .unwrap_or(DEFAULT_CLAIM_SECS)
    }

    pub fn iter(&self) -> impl Iterator<Item = (RuleKey, Rule)> + '_ {
        RuleKey::ALL.into_iter().map(|k| (k, self.get(k)))
    }

    /// The rule's name as reviewers read it, e.g. "external sends need 2 approvals".
    pub fn name(&self, key: RuleKey) -> String {
        rule_name(key, self.get(key))
    }

    /// Stored form: a JSON object keyed by rule.
    pub fn to_json(&self) -> String {
        let map: BTreeMap<&str, Rule> = self.iter().map(|(k, r)| (k.as_str(), r)).collect();
        serde_json::to_string(&map).expect("rules serialize")
    }

    /// Parses the stored form. Every key must be present and valid: a rule
    /// set we cannot fully read is an error, which the decision fails closed on.
    pub fn from_json(s: &str) -> Result<Rules, String> {
        let map: BTreeMap<String, Rule> =
            serde_json::from_str(s).map_err(|e| format!("unreadable rules: {e}"))?;
        let mut rules = Rules::defaults();
        for key in map.keys() {
            RuleKey::parse(key)?;
        }
        for key in RuleKey::ALL {
            let rule = map
                .get(key.as_str())
                .ok_or_else(|| format!("no rule for {key}"))?;
            rules.set(key, *rule)?;
        }
        Ok(rules)
    }
}

pub fn rule_name(key: RuleKey, rule: Rule) -> String {
    let n = rule.approvals;
    let approvals = if n == 1 {
        "1 approval".to_string()
    } else {
        format!("{n} approvals")
    };
    let always = if rule.always_approve { "always " } else { "" };
    format!(
        "{} {always}need {approvals} within {}",
        key.plural(),
        duration(rule.ttl_secs)
    )
}

/// "90s", "45m", "24h", "7d": the largest unit that divides evenly.
pub fn duration(secs: i64) -> String {
    for (unit, size) in [("d", 86_400), ("h", 3_600), ("m", 60)] {
        if secs >= size && secs % size == 0 {
            return format!("{}{unit}", secs / size);
        }
    }
    format!("{secs}s")
}

/// Parses "90s", "45m", "24h", "7d" (or a bare number of seconds).
pub fn parse_duration(raw: &str) -> Result<i64, String> {
    let s = raw.trim();
    let (digits, size) = match s.char_indices().last() {
        Some((i, 's')) => (&s[..i], 1),
        Some((i, 'm')) => (&s[..i], 60),
        Some((i, 'h')) => (&s[..i], 3_600),
        Some((i, 'd')) => (&s[..i], 86_400),
        _ => (s, 1),
    };
    let n: i64 = digits
        .trim()
        .parse()
        .map_err(|_| format!("{raw:?} is not a duration like 90s, 45m, 24h or 7d"))?;
    n.checked_mul(size)
        .filter(|secs| (1..=MAX_TTL_SECS).contains(secs))
        .ok_or_else(|| format!("{raw:?}: the wait must be between 1 second and 365 days"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rules_saved_before_sponsor_and_claim_settings_bar_the_sponsor_for_an_hour() {
        let mut old: serde_json::Value =
            serde_json::from_str(&Rules::defaults().to_json()).unwrap();
        for rule in old.as_object_mut().unwrap().values_mut() {
            let rule = rule.as_object_mut().unwrap();
            rule.remove("sponsor_may_approve");
            rule.remove("claim_secs");
            rule.insert("bar_sponsor".into(), serde_json::Value::Bool(false));
        }
        let rules = Rules::from_json(&old.to_string()).unwrap();
        assert!(!rules.sponsor_may_approve(&[RuleKey::ExternalSend]));
        assert_eq!(
            rules.claim_secs(&[RuleKey::ExternalSend]),
            DEFAULT_CLAIM_SECS
        );
    }

    #[test]
    fn the_sponsor_approves_only_where_every_rule_allows_and_the_shortest_window_wins() {
        let mut rules = Rules::defaults();
        let mut send = rules.get(RuleKey::ExternalSend);
        send.sponsor_may_approve = true;
        send.claim_secs = 600;
        rules.set(RuleKey::ExternalSend, send).unwrap();
        assert!(rules.sponsor_may_approve(&[RuleKey::ExternalSend]));
        let both = [RuleKey::ExternalSend, RuleKey::FirstUse];
        assert!(!rules.sponsor_may_approve(&both));
        assert!(!rules.sponsor_may_approve(&[]));
        assert_eq!(rules.claim_secs(&both), 600);
        send.claim_secs = 10;
        assert!(rules.set(RuleKey::ExternalSend, send).is_err());
    }

    #[test]
    fn stored_rules_round_trip_and_partial_sets_are_refused() {
        let mut rules = Rules::defaults();
        rules
            .set(
                RuleKey::ExternalSend,
                Rule {
                    approvals: 2,
                    ttl_secs: 3600,
                    always_approve: false,
                    sponsor_may_approve: false,
                    claim_secs: DEFAULT_CLAIM_SECS,
                },
            )
            .unwrap();
        assert_eq!(Rules::from_json(&rules.to_json()).unwrap(), rules);
        assert!(Rules::from_json("{}").unwrap_err().contains("no rule"));
        assert!(Rules::from_json("[").is_err());
        let extra = rules.to_json().replacen(
            '{',
            "{\"teleport\":{\"approvals\":1,\"ttl_secs\":1,\"always_approve\":false},",
            1,
        );
        assert!(Rules::from_json(&extra).unwrap_err().contains("teleport"));
    }

    #[test]
    fn rules_outside_their_bounds_are_refused() {
        let mut rules = Rules::defaults();
        for (key, rule) in [
            (
                RuleKey::Purchase,
                Rule {
                    approvals: 0,
                    ttl_secs: 60,
                    always_approve: false,
                    sponsor_may_approve: false,
                    claim_secs: DEFAULT_CLAIM_SECS,
                },
            ),
            (
                RuleKey::Purchase,
                Rule {
                    approvals: 4,
                    ttl_secs: 60,
                    always_approve: false,
                    sponsor_may_approve: false,
                    claim_secs: DEFAULT_CLAIM_SECS,
                },
            ),
            (
                RuleKey::Purchase,
                Rule {
                    approvals: 1,
                    ttl_secs: 0,
                    always_approve: false,
                    sponsor_may_approve: false,
                    claim_secs: DEFAULT_CLAIM_SECS,
                },
            ),
            (
                RuleKey::FirstUse,
                Rule {
                    approvals: 1,
                    ttl_secs: 60,
                    always_approve: true,
                    sponsor_may_approve: false,
                    claim_secs: DEFAULT_CLAIM_SECS,
                },
            ),
        ] {
            assert!(rules.set(key, rule).is_err(), "{key} {rule:?}");
        }
        assert_eq!(rules, Rules::defaults());
    }

    #[test]
    fn rule_names_read_as_sentences() {
        let mut rules = Rules::defaults();
        rules
            .set(
                RuleKey::ExternalSend,
                Rule {
                    approvals: 2,
                    ttl_secs: 4 * 3600,
                    always_approve: false,
                    sponsor_may_approve: false,
                    claim_secs: DEFAULT_CLAIM_SECS,
                },
            )
            .unwrap();
        assert_eq!(
            rules.name(RuleKey::ExternalSend),
            "external sends need 2 approvals within 4h"
        );
        assert_eq!(
            rules.name(RuleKey::Destructive),
            "destructive actions always need 1 approval within 1d"
        );
    }

    #[test]
    fn durations_parse_and_print() {
        for (raw, secs) in [
            ("90s", 90),
            ("45m", 2700),
            ("24h", 86400),
            ("7d", 604800),
            ("30", 30),
        ] {
            assert_eq!(parse_duration(raw), Ok(secs), "{raw}");
        }
        for raw in ["", "h", "0s", "-5m", "1.5h", "400d", "99999999999999999d"] {
            assert!(parse_duration(raw).is_err(), "{raw}");
        }
        assert_eq!(duration(90), "90s");
        assert_eq!(duration(86_400), "1d");
        assert_eq!(duration(5_400), "90m");
    }
}
