//! What makes an edit a rise in trust: the grant or rule set after it lets
//! some action run with less human attention than before. Each rise is
//! named in words for the second lead; none means one lead may save it.

use super::grant::{Bound, Grant, Op, TargetRule};
use super::ruleset::{duration, Rules};

/// How `after` lets the agent do more than `before` (`None`: no grant yet).
pub fn grant_rises(before: Option<&Grant>, after: &Grant) -> Vec<String> {
    let Some(before) = before else {
        return vec![format!(
            "grants {} (a capability the agent did not have)",
            after.capability
        )];
    };
    let mut out = Vec::new();
    let stage = |g: &Grant| {
        g.stage
            .map_or("the agent's stage".to_string(), |s| s.to_string())
    };
    if after.stage.is_none() && before.stage.is_some()
        || matches!((before.stage, after.stage), (Some(b), Some(a)) if a > b)
    {
        out.push(format!("stage from {} to {}", stage(before), stage(after)));
    }
    if let Some(old) = before.max_per_hour {
        match after.max_per_hour {
            None => out.push(format!("removes the hourly limit of {old}")),
            Some(new) if new > old => out.push(format!("hourly limit from {old} to {new}")),
            Some(_) => {}
        }
    }
    for bound in &before.bounds {
        if !after.bounds.iter().any(|b| implies(b, bound)) {
            out.push(format!("drops or loosens the bound {bound}"));
        }
    }
    if !before.targets.is_empty() {
        if after.targets.is_empty() {
            out.push("allows any target".into());
        }
        for t in &after.targets {
            if !before.targets.iter().any(|old| covers(old, t)) {
                out.push(format!("adds the target {t}"));
            }
        }
    }
    if let Some(old) = before.expires_at_ms {
        match after.expires_at_ms {
            None => out.push("removes the expiry".into()),
            Some(new) if new > old => out.push("expires later".into()),
            Some(_) => {}
        }
    }
    out
}

/// Whether every value allowed by `new` is allowed by `old`.
fn implies(new: &Bound, old: &Bound) -> bool {
    if new.param != old.param {
        return false;
    }
    let (n, o) = (new.value, old.value);
    match (old.op, new.op) {
        (Op::Le, Op::Le | Op::Lt | Op::Eq) => n <= o,
        (Op::Lt, Op::Lt) => n <= o,
        (Op::Lt, Op::Le | Op::Eq) => n < o,
        (Op::Ge, Op::Ge | Op::Gt | Op::Eq) => n >= o,
        (Op::Gt, Op::Gt) => n >= o,
        (Op::Gt, Op::Ge | Op::Eq) => n > o,
        (Op::Eq, Op::Eq) => n == o,
        _ => false,
    }
}

/// Whether every target `new` allows, `old` allowed.
fn covers(old: &TargetRule, new: &TargetRule) -> bool {
    match (old, new) {
        (TargetRule::Exact(o), TargetRule::Exact(n)) => o == n,
        (TargetRule::Prefix(o), TargetRule::Exact(n) | TargetRule::Prefix(n)) => {
            n.starts_with(o.as_str())
        }
        (TargetRule::Exact(_), TargetRule::Prefix(_)) => false,
    }
}

/// How the rule set `after` holds less, or for shorter, than `before`.
pub fn rules_rises(before: &Rules, after: &Rules) -> Vec<String> {
    let mut out = Vec::new();
    for ((key, b), (_, a)) in before.iter().zip(after.iter()) {
        let k = key.plural();
        if a.approvals < b.approvals {
            out.push(format!(
                "{k}: approvals from {} to {}",
                b.approvals, a.approvals
            ));
        }
        if a.ttl_secs > b.ttl_secs {
            out.push(format!(
                "{k}: may wait {} instead of {}",
                duration(a.ttl_secs),
                duration(b.ttl_secs)
            ));
        }
        if b.always_approve && !a.always_approve {
            out.push(format!("{k}: no longer pause autonomous agents"));
        }
        if a.sponsor_may_approve && !b.sponsor_may_approve {
            out.push(format!("{k}: the agent's sponsor may approve"));
        }
        if a.claim_secs > b.claim_secs {
            out.push(format!(
                "{k}: an approval stays good for {} instead of {}",
                duration(a.claim_secs),
                duration(b.claim_secs)
            ));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::policy::{RuleKey, Stage};

    fn grant(bounds: &str, targets: &str) -> Grant {
        Grant {
            capability: "billing.refund".into(),
            stage: Some(Stage::Propose),
            max_per_hour: Some(10),
            bounds: bounds.lines().map(|l| Bound::parse(l).unwrap()).collect(),
            targets: targets
                .lines()
                .map(|l| TargetRule::parse(l).unwrap())
                .collect(),
            expires_at_ms: Some(1_000),
        }
    }

    #[test]
    fn narrowing_a_grant_is_no_rise_and_each_widening_is_named() {
        let old = grant("amount <= 500", "customer:*");
        let narrower = Grant {
            stage: Some(Stage::Draft),
            max_per_hour: Some(5),
            expires_at_ms: Some(900),
            ..grant("amount < 100\nitems <= 3", "customer:acme\ncustomer:b*")
        };
        assert_eq!(grant_rises(Some(&old), &narrower), Vec::<String>::new());
        assert_eq!(grant_rises(Some(&old), &old), Vec::<String>::new());
        let wider = Grant {
            stage: None,
            max_per_hour: None,
            expires_at_ms: None,
            ..grant("amount <= 900", "")
        };
        let rises = grant_rises(Some(&old), &wider);
        for expect in [
            "stage",
            "hourly limit",
            "amount <= 500",
            "any target",
            "expiry",
        ] {
            assert!(
                rises.iter().any(|r| r.contains(expect)),
                "{expect}: {rises:?}"
            );
        }
        assert_eq!(grant_rises(Some(&old), &grant("", "customer:*")).len(), 1);
        assert_eq!(
            grant_rises(Some(&old), &grant("amount <= 500", "vendor:x")).len(),
            1
        );
        assert_eq!(grant_rises(None, &old).len(), 1, "a new grant is a rise");
    }

    #[test]
    fn bounds_imply_only_tighter_bounds_on_the_same_side() {
        let b = |s: &str| Bound::parse(s).unwrap();
        assert!(implies(&b("a == 3"), &b("a <= 5")));
        assert!(implies(&b("a < 5"), &b("a <= 5")));
        assert!(!implies(&b("a <= 5"), &b("a < 5")));
        assert!(implies(&b("a > 5"), &b("a >= 5")));
        assert!(!implies(&b("a >= 1"), &b("a <= 5")));
        assert!(!implies(&b("b <= 1"), &b("a <= 5")));
    }

    #[test]
    fn relaxing_any_rule_in_any_way_is_named() {
        let before = Rules::defaults();
        assert!(rules_rises(&before, &before).is_empty());
        let mut tighter = before.clone();
        let mut r = tighter.get(RuleKey::Purchase);
        r.approvals = 2;
        r.ttl_secs = 60;
        r.claim_secs = 60;
        tighter.set(RuleKey::Purchase, r).unwrap();
        assert!(rules_rises(&before, &tighter).is_empty());
        let mut looser = before.clone();
        let mut r = looser.get(RuleKey::Purchase);
        r.always_approve = false;
        r.sponsor_may_approve = true;
        r.ttl_secs *= 2;
        r.claim_secs *= 2;
        looser.set(RuleKey::Purchase, r).unwrap();
        assert_eq!(rules_rises(&before, &looser).len(), 4);
        assert_eq!(
            rules_rises(&tighter, &before).len(),
            3,
            "fewer approvals, longer waits and windows"
        );
    }
}
