use serde::{Deserialize, Serialize};
use std::fmt;

/// A risk trigger from the fixed, documented set. `out_of_scope` is not
/// here: it is computed from the agent's grants, never declared.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum Trigger {
    ExternalSend,
    Purchase,
    PrivilegedChange,
    ProductionWrite,
    CustomerVisible,
    Destructive,
    CredentialUse,
}

impl Trigger {
    pub const ALL: [Trigger; 7] = [
        Trigger::ExternalSend,
        Trigger::Purchase,
        Trigger::PrivilegedChange,
        Trigger::ProductionWrite,
        Trigger::CustomerVisible,
        Trigger::Destructive,
        Trigger::CredentialUse,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Trigger::ExternalSend => "external_send",
            Trigger::Purchase => "purchase",
            Trigger::PrivilegedChange => "privileged_change",
            Trigger::ProductionWrite => "production_write",
            Trigger::CustomerVisible => "customer_visible",
            Trigger::Destructive => "destructive",
            Trigger::CredentialUse => "credential_use",
        }
    }

    pub fn parse(s: &str) -> Result<Trigger, String> {
        Trigger::ALL
            .into_iter()
            .find(|t| t.as_str() == s)
            .ok_or_else(|| format!("unknown risk trigger {s:?}"))
    }

    /// Parses the stored comma-separated list; an unknown name is an error
    /// (callers fail closed on it), never silently dropped.
    pub fn parse_list(s: &str) -> Result<Vec<Trigger>, String> {
        s.split(',')
            .map(str::trim)
            .filter(|t| !t.is_empty())
            .map(Trigger::parse)
            .collect()
    }

    pub fn join(triggers: &[Trigger]) -> String {
        triggers
            .iter()
            .map(|t| t.as_str())
            .collect::<Vec<_>>()
            .join(",")
    }
}

impl fmt::Display for Trigger {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}
