//! Why an action is held: the key each policy rule is written under.

use super::Trigger;
use serde::{Deserialize, Serialize};
use std::fmt;

/// Why an action is held: a catalog risk trigger, or a condition Belay computes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum RuleKey {
    ExternalSend,
    Purchase,
    PrivilegedChange,
    ProductionWrite,
    CustomerVisible,
    Destructive,
    CredentialUse,
    /// The agent has no grant for the capability, or is over a grant's limit.
    OutOfScope,
    /// The agent has never used the capability before.
    FirstUse,
    /// The catalog does not know the capability (or cannot read its entry).
    UnknownCapability,
    /// A proposal that carries none of the above.
    Proposal,
}

impl RuleKey {
    pub const ALL: [RuleKey; 11] = [
        RuleKey::ExternalSend,
        RuleKey::Purchase,
        RuleKey::PrivilegedChange,
        RuleKey::ProductionWrite,
        RuleKey::CustomerVisible,
        RuleKey::Destructive,
        RuleKey::CredentialUse,
        RuleKey::OutOfScope,
        RuleKey::FirstUse,
        RuleKey::UnknownCapability,
        RuleKey::Proposal,
    ];

    pub fn from_trigger(t: Trigger) -> RuleKey {
        match t {
            Trigger::ExternalSend => RuleKey::ExternalSend,
            Trigger::Purchase => RuleKey::Purchase,
            Trigger::PrivilegedChange => RuleKey::PrivilegedChange,
            Trigger::ProductionWrite => RuleKey::ProductionWrite,
            Trigger::CustomerVisible => RuleKey::CustomerVisible,
            Trigger::Destructive => RuleKey::Destructive,
            Trigger::CredentialUse => RuleKey::CredentialUse,
        }
    }

    /// How much this reason adds to a held request's risk, which orders the
    /// approval queue: the unknown first, then irreversible and money, then
    /// the rest; a plain proposal least.
    pub fn risk_weight(self) -> i64 {
        match self {
            RuleKey::UnknownCapability => 100,
            RuleKey::Destructive | RuleKey::Purchase => 40,
            RuleKey::PrivilegedChange | RuleKey::CredentialUse => 30,
            RuleKey::OutOfScope => 25,
            RuleKey::ExternalSend | RuleKey::ProductionWrite => 20,
            RuleKey::CustomerVisible => 10,
            RuleKey::FirstUse => 5,
            RuleKey::Proposal => 1,
        }
    }

    /// Catalog triggers may be marked *always approve*; the computed keys
    /// pause autonomous agents anyway.
    pub fn is_trigger(self) -> bool {
        self.index() < Trigger::ALL.len()
    }

    /// This key as one bit of a stored mask (`held_mask`).
    pub fn bit(self) -> i64 {
        1 << self.index()
    }

    /// The bits of every key in `keys`.
    pub fn mask(keys: &[RuleKey]) -> i64 {
        keys.iter().fold(0, |m, k| m | k.bit())
    }

    pub(super) fn index(self) -> usize {
        RuleKey::ALL
            .iter()
            .position(|k| *k == self)
            .expect("every key is in ALL")
    }

    pub fn as_str(self) -> &'static str {
        match self {
            RuleKey::ExternalSend => "external_send",
            RuleKey::Purchase => "purchase",
            RuleKey::PrivilegedChange => "privileged_change",
            RuleKey::ProductionWrite => "production_write",
            RuleKey::CustomerVisible => "customer_visible",
            RuleKey::Destructive => "destructive",
            RuleKey::CredentialUse => "credential_use",
            RuleKey::OutOfScope => "out_of_scope",
            RuleKey::FirstUse => "first_use",
            RuleKey::UnknownCapability => "unknown_capability",
            RuleKey::Proposal => "proposal",
        }
    }

    /// What the rule is about, as a plural noun phrase for rule names.
    pub fn plural(self) -> &'static str {
        match self {
            RuleKey::ExternalSend => "external sends",
            RuleKey::Purchase => "purchases",
            RuleKey::PrivilegedChange => "privileged changes",
            RuleKey::ProductionWrite => "production writes",
            RuleKey::CustomerVisible => "customer-visible actions",
            RuleKey::Destructive => "destructive actions",
            RuleKey::CredentialUse => "actions using credentials",
            RuleKey::OutOfScope => "out-of-scope actions",
            RuleKey::FirstUse => "first uses of a capability",
            RuleKey::UnknownCapability => "unknown capabilities",
            RuleKey::Proposal => "proposals without a risk trigger",
        }
    }

    pub fn parse(s: &str) -> Result<RuleKey, String> {
        RuleKey::ALL
            .into_iter()
            .find(|k| k.as_str() == s)
            .ok_or_else(|| format!("unknown rule {s:?}"))
    }
}

impl fmt::Display for RuleKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}
