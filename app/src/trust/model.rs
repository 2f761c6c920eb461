//! What the trust pages show, shared by the server and the browser, and
//! the readiness rules (pure, so they are tested without a database).

use crate::policy::Stage;
use serde::{Deserialize, Serialize};

/// The windows every metric is shown over, in days.
pub const WINDOWS: [i64; 3] = [7, 30, 90];
/// The window readiness criteria and the what-if read.
pub const READINESS_DAYS: i64 = 30;
pub const WAIT_BUCKETS: usize = 10;
const WAIT_LABELS: [&str; WAIT_BUCKETS] = [
    "under 1 min",
    "1–5 min",
    "5–15 min",
    "15–30 min",
    "30–60 min",
    "1–4 h",
    "4–8 h",
    "8–24 h",
    "1–3 days",
    "over 3 days",
];

/// Counts over one window. Rates are over human decisions (approved,
/// rejected or expired); "corrected" are approvals with edits.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema), schema(as = TrustFigures))]
pub struct Figures {
    pub days: i64,
    pub submitted: i64,
    pub allowed: i64,
    pub held: i64,
    pub drafted: i64,
    pub denied: i64,
    pub approved: i64,
    pub corrected: i64,
    pub rejected: i64,
    pub expired: i64,
    pub succeeded: i64,
    pub failed: i64,
    pub incidents: i64,
    pub reviewers: i64,
    /// Which time-to-decision bucket holds the median human decision.
    pub median_wait: Option<u8>,
}

impl Figures {
    pub fn decided(&self) -> i64 {
        self.approved + self.rejected + self.expired
    }

    pub fn outcomes(&self) -> i64 {
        self.succeeded + self.failed
    }

    pub fn median_wait_label(&self) -> &'static str {
        self.median_wait
            .map_or("—", |b| WAIT_LABELS[usize::from(b).min(WAIT_BUCKETS - 1)])
    }
}

/// "12.5 %" or "—" when nothing was counted.
pub fn pct(n: i64, of: i64) -> String {
    if of == 0 {
        "—".into()
    } else {
        let p = n as f64 * 100.0 / of as f64;
        if p.fract() == 0.0 {
            format!("{p:.0} %")
        } else {
            format!("{p:.1} %")
        }
    }
}

/// The median of decisions counted per bucket: the bucket holding the
/// lower middle decision.
pub fn median_bucket(wait: &[i64]) -> Option<u8> {
    let total: i64 = wait.iter().sum();
    if total == 0 {
        return None;
    }
    let middle = (total - 1) / 2;
    let mut seen = 0;
    for (i, n) in wait.iter().enumerate() {
        seen += n;
        if seen > middle {
            return u8::try_from(i).ok();
        }
    }
    None
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct CapabilityFigures {
    pub capability: String,
    /// One per `WINDOWS` entry.
    pub windows: Vec<Figures>,
}

/// One week of the trend chart.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct WeekBar {
    /// The week's first day, `YYYY-MM-DD`.
    pub starts: String,
    pub allowed: i64,
    pub approved: i64,
    pub corrected: i64,
    pub rejected: i64,
    pub expired: i64,
    pub incidents: i64,
}

/// One change of trust on the timeline.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct StageChange {
    pub at: String,
    pub kind: String,
    pub capability: Option<String>,
    pub from: Option<Stage>,
    pub to: Stage,
    pub reason: String,
    pub by: Option<String>,
    pub review_id: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct AgentMetrics {
    /// One per `WINDOWS` entry.
    pub windows: Vec<Figures>,
    pub capabilities: Vec<CapabilityFigures>,
    /// Oldest first: 13 calendar weeks (Monday first), the current one last.
    pub weeks: Vec<WeekBar>,
    pub days_at_stage: i64,
    pub history: Vec<StageChange>,
}

/// Readiness criteria for promotion to one stage.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema), schema(as = ReadinessCriteria))]
pub struct Criteria {
    pub stage: Stage,
    pub min_decisions: i64,
    pub min_approved_pct: i64,
    pub max_corrected_pct: i64,
    pub max_incidents: i64,
    pub min_reviewers: i64,
    pub min_days_at_stage: i64,
    pub approvals_needed: i64,
}

/// One criterion, met or not, with the figure it was judged on.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema), schema(as = ReadinessCheck))]
pub struct Check {
    pub label: String,
    pub wanted: String,
    pub actual: String,
    pub met: bool,
}

/// Judges 30-day figures against the criteria. Percentages compare in
/// whole numbers (n × 100 against pct × total), so 95 % means 95 %.
pub fn evaluate(c: &Criteria, f: &Figures, days_at_stage: i64) -> Vec<Check> {
    let decided = f.decided();
    vec![
        Check {
            label: "Human decisions in 30 days".into(),
            wanted: format!("at least {}", c.min_decisions),
            actual: decided.to_string(),
            met: decided >= c.min_decisions,
        },
        Check {
            label: "Approved".into(),
            wanted: format!("at least {} %", c.min_approved_pct),
            actual: pct(f.approved, decided),
            met: if decided == 0 {
                c.min_approved_pct == 0
            } else {
                f.approved * 100 >= c.min_approved_pct * decided
            },
        },
        Check {
            label: "Corrected (approved with edits)".into(),
            wanted: format!("at most {} %", c.max_corrected_pct),
            actual: pct(f.corrected, decided),
            met: f.corrected * 100 <= c.max_corrected_pct * decided,
        },
        Check {
            label: "Incidents in 30 days".into(),
            wanted: format!("at most {}", c.max_incidents),
            actual: f.incidents.to_string(),
            met: f.incidents <= c.max_incidents,
        },
        Check {
            label: "Distinct reviewers".into(),
            wanted: format!("at least {}", c.min_reviewers),
            actual: f.reviewers.to_string(),
            met: f.reviewers >= c.min_reviewers,
        },
        Check {
            label: "Days at the current stage".into(),
            wanted: format!("at least {}", c.min_days_at_stage),
            actual: days_at_stage.to_string(),
            met: days_at_stage >= c.min_days_at_stage,
        },
    ]
}

/// How the past 30 days would have gone at another stage.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct WhatIf {
    pub stage: Option<Stage>,
    pub considered: i64,
    pub auto_allowed: i64,
    /// Of the would-be auto-allowed: what people actually did.
    pub rejected: i64,
    pub corrected: i64,
    pub failed: i64,
    pub still_held: i64,
    /// More requests than were read (the newest were).
    pub truncated: bool,
}

#[cfg(test)]
mod tests {
    use super::*;

    fn criteria() -> Criteria {
        Criteria {
            stage: Stage::ScopedAutonomy,
            min_decisions: 50,
            min_approved_pct: 95,
            max_corrected_pct: 5,
            max_incidents: 0,
            min_reviewers: 3,
            min_days_at_stage: 14,
            approvals_needed: 1,
        }
    }

    #[test]
    fn readiness_is_judged_on_each_figure() {
        let f = Figures {
            approved: 95,
            rejected: 5,
            corrected: 5,
            reviewers: 3,
            ..Figures::default()
        };
        let checks = evaluate(&criteria(), &f, 14);
        assert!(checks.iter().all(|c| c.met), "{checks:?}");
        let f = Figures {
            approved: 94,
            rejected: 6,
            corrected: 6,
            reviewers: 2,
            incidents: 1,
            ..Figures::default()
        };
        let met: Vec<bool> = evaluate(&criteria(), &f, 13)
            .iter()
            .map(|c| c.met)
            .collect();
        assert_eq!(met, [true, false, false, false, false, false]);
    }

    #[test]
    fn no_decisions_meets_no_approval_bar() {
        let checks = evaluate(&criteria(), &Figures::default(), 30);
        assert!(!checks[1].met);
        assert!(checks[2].met);
    }

    #[test]
    fn the_median_is_the_lower_middle_decision() {
        assert_eq!(median_bucket(&[0, 0]), None);
        assert_eq!(median_bucket(&[1, 1, 0]), Some(0));
        assert_eq!(median_bucket(&[1, 1, 1]), Some(1));
        assert_eq!(median_bucket(&[0, 0, 4]), Some(2));
    }

    #[test]
    fn percentages_read_plainly() {
        assert_eq!(pct(1, 8), "12.5 %");
        assert_eq!(pct(1, 4), "25 %");
        assert_eq!(pct(0, 0), "—");
    }
}
