//! Scope grants: which capabilities an agent may use, with optional limits.
//! Parsed at the edge into typed values; checking a request is pure.

use super::Stage;
use serde::{Deserialize, Serialize};
use std::fmt;

/// One capability granted to one agent.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Grant {
    pub capability: String,
    /// Raises or lowers the agent's stage for this capability.
    pub stage: Option<Stage>,
    pub max_per_hour: Option<u32>,
    pub bounds: Vec<Bound>,
    /// Empty: any target.
    pub targets: Vec<TargetRule>,
    pub expires_at_ms: Option<i64>,
}

impl Grant {
    pub fn expired(&self, now_ms: i64) -> bool {
        self.expires_at_ms.is_some_and(|at| at <= now_ms)
    }

    /// The stage that applies to this capability. A grant can only lower
    /// the agent's stage: raising trust takes a promotion review, and a
    /// demoted agent is never held up by an older, higher grant.
    pub fn stage_for(&self, agent_stage: Stage) -> Stage {
        self.stage.map_or(agent_stage, |s| s.min(agent_stage))
    }

    /// Every way `target`/`params` fall outside this grant, in words. The
    /// rate limit is checked by the caller, which knows the recent count.
    pub fn violations(&self, target: &str, params: &serde_json::Value, now_ms: i64) -> Vec<String> {
        let mut out = Vec::new();
        if self.expired(now_ms) {
            out.push(format!("the grant for {} has expired", self.capability));
        }
        if !self.targets.is_empty() && !self.targets.iter().any(|t| t.matches(target)) {
            out.push(format!(
                "target {target:?} is not among the grant's allowed targets ({})",
                join(&self.targets)
            ));
        }
        for bound in &self.bounds {
            if let Err(why) = bound.check(params) {
                out.push(why);
            }
        }
        out
    }

    /// The limits in words, for explanations and the agent's `/me`.
    pub fn limits(&self) -> Vec<String> {
        let mut out = Vec::new();
        if let Some(n) = self.max_per_hour {
            out.push(format!("at most {n} per hour"));
        }
        out.extend(self.bounds.iter().map(|b| b.to_string()));
        if !self.targets.is_empty() {
            out.push(format!("targets {}", join(&self.targets)));
        }
        out
    }
}

fn join<T: fmt::Display>(items: &[T]) -> String {
    items
        .iter()
        .map(|i| i.to_string())
        .collect::<Vec<_>>()
        .join(", ")
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum Op {
    #[serde(rename = "<=")]
    Le,
    #[serde(rename = "<")]
    Lt,
    #[serde(rename = ">=")]
    Ge,
    #[serde(rename = ">")]
    Gt,
    #[serde(rename = "==")]
    Eq,
}

impl Op {
    fn as_str(self) -> &'static str {
        match self {
            Op::Le => "<=",
            Op::Lt => "<",
            Op::Ge => ">=",
            Op::Gt => ">",
            Op::Eq => "==",
        }
    }

    fn holds(self, left: f64, right: f64) -> bool {
        match self {
            Op::Le => left <= right,
            Op::Lt => left < right,
            Op::Ge => left >= right,
            Op::Gt => left > right,
            Op::Eq => left == right,
        }
    }
}

/// A numeric bound on a named parameter, e.g. `amount <= 500`. A dotted
/// name reaches into nested objects (`order.total <= 100`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Bound {
    pub param: String,
    pub op: Op,
    pub value: f64,
}

impl Bound {
    /// Parses `amount <= 500`.
    pub fn parse(raw: &str) -> Result<Bound, String> {
        let s = raw.trim();
        let bad = || format!("{s:?} is not a bound like \"amount <= 500\"");
        let at = s.find(['<', '>', '=']).ok_or_else(bad)?;
        let (param, rest) = s.split_at(at);
        let param = param.trim();
        let (op, value) = [
            ("<=", Op::Le),
            (">=", Op::Ge),
            ("==", Op::Eq),
            ("<", Op::Lt),
            (">", Op::Gt),
        ]
        .into_iter()
        .find_map(|(text, op)| rest.strip_prefix(text).map(|v| (op, v)))
        .ok_or_else(bad)?;
        let valid_name = !param.is_empty()
            && param.len() <= 100
            && param.split('.').all(|part| {
                !part.is_empty() && part.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
            });
        if !valid_name {
            return Err(format!(
                "{param:?} is not a parameter name (letters, digits, _ and dots for nested fields)"
            ));
        }
        let value: f64 = value.trim().parse().map_err(|_| bad())?;
        if !value.is_finite() {
            return Err(bad());
        }
        Ok(Bound {
            param: param.to_string(),
            op,
            value,
        })
    }

    /// A missing or non-numeric parameter is a violation: the grant bounds
    /// it, so Belay cannot tell that the action is inside the bound.
    fn check(&self, params: &serde_json::Value) -> Result<(), String> {
        let found = self
            .param
            .split('.')
            .try_fold(params, |v, part| v.get(part));
        match found {
            None => Err(format!(
                "param {} is missing, and the grant bounds it ({self})",
                self.param
            )),
            Some(v) => match v.as_f64() {
                None => Err(format!(
                    "param {} is not a number, and the grant bounds it ({self})",
                    self.param
                )),
                Some(n) if self.op.holds(n, self.value) => Ok(()),
                Some(n) => Err(format!(
                    "param {} is {n}, outside the grant's bound {self}",
                    self.param
                )),
            },
        }
    }
}

impl fmt::Display for Bound {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} {} {}", self.param, self.op.as_str(), self.value)
    }
}

/// An allowed target: exact, or a prefix written with a trailing `*`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TargetRule {
    Exact(String),
    Prefix(String),
}

impl TargetRule {
    pub fn parse(raw: &str) -> Result<TargetRule, String> {
        let s = raw.trim();
        if s.is_empty() || s == "*" {
            return Err(
                "an allowed target must not be empty (leave the list empty to allow any target)"
                    .into(),
            );
        }
        if s.len() > 500 || s.chars().any(char::is_control) {
            return Err(format!(
                "{s:?} is not a target (at most 500 printable characters)"
            ));
        }
        Ok(match s.strip_suffix('*') {
            Some(prefix) => TargetRule::Prefix(prefix.to_string()),
            None => TargetRule::Exact(s.to_string()),
        })
    }

    pub fn matches(&self, target: &str) -> bool {
        match self {
            TargetRule::Exact(t) => target == t,
            TargetRule::Prefix(p) => target.starts_with(p.as_str()),
        }
    }
}

impl fmt::Display for TargetRule {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            TargetRule::Exact(t) => f.write_str(t),
            TargetRule::Prefix(p) => write!(f, "{p}*"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn grant() -> Grant {
        Grant {
            capability: "billing.refund".into(),
            stage: None,
            max_per_hour: None,
            bounds: vec![Bound::parse("amount <= 500").unwrap()],
            targets: vec![
                TargetRule::parse("customer:acme").unwrap(),
                TargetRule::parse("customer:test-*").unwrap(),
            ],
            expires_at_ms: Some(1_000),
        }
    }

    #[test]
    fn bounds_parse_and_reject_nonsense() {
        assert_eq!(
            Bound::parse(" order.total>=10.5 ").unwrap(),
            Bound {
                param: "order.total".into(),
                op: Op::Ge,
                value: 10.5
            }
        );
        for bad in [
            "amount",
            "amount <= ",
            "<= 5",
            "amount =< 5",
            "a b <= 5",
            "amount <= NaN",
            "amount <= inf",
            "a..b < 1",
        ] {
            assert!(Bound::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn a_request_inside_the_grant_has_no_violations() {
        let g = grant();
        assert!(g
            .violations("customer:acme", &json!({"amount": 500}), 999)
            .is_empty());
        assert!(g
            .violations("customer:test-42", &json!({"amount": 0.5}), 0)
            .is_empty());
    }

    #[test]
    fn each_way_out_of_the_grant_is_named() {
        let g = grant();
        for (target, params, now, expect) in [
            (
                "customer:acme",
                json!({"amount": 500.01}),
                0,
                "outside the grant's bound amount <= 500",
            ),
            ("customer:acme", json!({}), 0, "param amount is missing"),
            ("customer:acme", json!({"amount": "500"}), 0, "not a number"),
            (
                "customer:other",
                json!({"amount": 1}),
                0,
                "not among the grant's allowed targets",
            ),
            (
                "customer:test",
                json!({"amount": 1}),
                0,
                "not among the grant's allowed targets",
            ),
            ("customer:acme", json!({"amount": 1}), 1_000, "has expired"),
        ] {
            let v = g.violations(target, &params, now);
            assert!(
                v.iter().any(|s| s.contains(expect)),
                "{target} {params} {now}: {v:?}"
            );
        }
    }

    #[test]
    fn a_grant_may_lower_the_stage_but_never_raise_it() {
        let mut g = grant();
        g.stage = Some(Stage::ScopedAutonomy);
        assert_eq!(g.stage_for(Stage::Propose), Stage::Propose);
        g.stage = Some(Stage::Draft);
        assert_eq!(g.stage_for(Stage::ActWithApproval), Stage::Draft);
        g.stage = None;
        assert_eq!(g.stage_for(Stage::ScopedAutonomy), Stage::ScopedAutonomy);
    }

    #[test]
    fn targets_parse() {
        assert_eq!(
            TargetRule::parse("a*").unwrap(),
            TargetRule::Prefix("a".into())
        );
        assert!(TargetRule::parse("*").is_err());
        assert!(TargetRule::parse("a\nb").is_err());
    }
}
