//! The rule book: what a submitted action becomes, from the agent's trust
//! stage and the action's risk. Pure functions, so every front door and every
//! test asks the same rules.

mod decide;
mod stage;
mod trigger;

pub use decide::{decide, Capability, Decision, Input, Outcome, POLICY_VERSION};
pub use stage::Stage;
pub use trigger::Trigger;
