//! Change requests: the one reviewable object for every rise in trust. A
//! lead proposes the exact before and after with a reason; another lead
//! (not the proposer, not the agent's sponsor) approves it before it takes
//! effect. Promotion reviews are one kind of it. This module holds the
//! object and its table; `governance/` decides and applies it.

#[cfg(feature = "ssr")]
pub mod list;
pub mod model;
mod note;
#[cfg(feature = "ssr")]
pub mod store;

pub use model::{ChangeDetail, ChangeRow, Diff, Kind, Proposed, Saved, Vote};
pub use note::{ProposedNote, ReasonField};
