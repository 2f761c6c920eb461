//! The evidence viewer: each piece shown the way its type reads best, and
//! nothing an agent sent can run in a reviewer's browser. Images and DOM
//! snapshots come from `/evidence/{id}/raw` (a snapshot only inside a
//! sandboxed frame, under a CSP that forbids scripts and every request);
//! text comes through `evidence/text` and is rendered escaped (Markdown is
//! rendered on the server with raw HTML escaped).

#[cfg(test)]
mod adversarial;
pub mod bounds;
#[cfg(feature = "ssr")]
mod markdown;
#[cfg(feature = "ssr")]
pub mod parse;
pub mod shape;
#[cfg(feature = "ssr")]
pub mod store;
mod view;

pub use view::{human_size, EvidenceViewer};

use crate::error::AppError;
use leptos::prelude::*;
use serde::{Deserialize, Serialize};

/// One piece of evidence, described (its bytes are fetched separately).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema), schema(as = Evidence))]
pub struct EvidenceInfo {
    pub id: String,
    #[serde(rename = "type")]
    #[cfg_attr(feature = "ssr", schema(value_type = parse::EvidenceType))]
    pub kind: String,
    pub media_type: String,
    pub size_bytes: i64,
    pub sha256: String,
    /// `request` (reviewed with it, covered by the payload hash) or
    /// `outcome` (sent with the agent's report afterwards).
    #[cfg_attr(feature = "ssr", schema(schema_with = crate::openapi::evidence_phase))]
    pub phase: String,
}

/// Largest text the viewer loads at once; the rest is cut (the raw link
/// still has it all). The page carries it once as data and once drawn, so
/// this keeps a request page under a megabyte.
pub const MAX_TEXT: usize = 200 * 1024;

/// One piece of text evidence, ready to show.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct EvidenceText {
    pub kind: String,
    pub media_type: String,
    pub text: String,
    /// Plans and prompts: sanitized HTML from Markdown.
    pub html: Option<String>,
    /// Longer than `MAX_TEXT`; `text` is its beginning.
    pub truncated: bool,
}

#[server(prefix = "/rpc", endpoint = "evidence/text")]
pub async fn load_evidence_text(id: String) -> Result<EvidenceText, AppError> {
    crate::error::respond(async move {
        let (state, _) =
            crate::auth::session::guard(crate::auth::Role::can_see, "see evidence").await?;
        store::text(&state.db, &id).await
    })
    .await
}
