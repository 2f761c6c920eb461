//! The rule book: what a submitted action becomes, from the agent's trust
//! stage and scope, the action's risk, and the current policy rules. Pure
//! functions over an in-memory index, so every front door and every test
//! asks the same rules.

mod decide;
#[cfg(feature = "ssr")]
pub mod facts;
mod grant;
mod index;
mod relax;
mod rule_key;
pub mod ruleset;
mod stage;
#[cfg(feature = "ssr")]
pub mod store;
mod trigger;

#[cfg(test)]
mod tests;

pub use decide::{decide, AppliedRule, Decision, Facts, Outcome, Request};
pub use grant::{Bound, Grant, Op, TargetRule};
pub use index::{AgentPolicy, AgentStatus, CatalogEntry, Index, KeyEntry, Policy, QuotaOverrides};
pub use relax::{grant_rises, rules_rises};
pub use rule_key::RuleKey;
pub use ruleset::{Rule, Rules};
pub use stage::Stage;
pub use trigger::Trigger;
