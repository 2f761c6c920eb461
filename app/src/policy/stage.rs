use serde::{Deserialize, Serialize};
use std::fmt;

/// An agent's trust stage, from least to most trusted.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum Stage {
    Observe,
    Draft,
    Propose,
    ActWithApproval,
    ScopedAutonomy,
}

impl Stage {
    pub const ALL: [Stage; 5] = [
        Stage::Observe,
        Stage::Draft,
        Stage::Propose,
        Stage::ActWithApproval,
        Stage::ScopedAutonomy,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Stage::Observe => "observe",
            Stage::Draft => "draft",
            Stage::Propose => "propose",
            Stage::ActWithApproval => "act_with_approval",
            Stage::ScopedAutonomy => "scoped_autonomy",
        }
    }

    /// 1 (observe) to 5 (scoped autonomy), as people talk about stages.
    pub fn number(self) -> u8 {
        match self {
            Stage::Observe => 1,
            Stage::Draft => 2,
            Stage::Propose => 3,
            Stage::ActWithApproval => 4,
            Stage::ScopedAutonomy => 5,
        }
    }

    pub fn parse(s: &str) -> Result<Stage, String> {
        Stage::ALL
            .into_iter()
            .find(|st| st.as_str() == s)
            .ok_or_else(|| {
                format!(
                    "unknown stage {s:?}: expected observe, draft, propose, act_with_approval or scoped_autonomy"
                )
            })
    }
}

impl fmt::Display for Stage {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}
