//! The MCP gateway's rule-book side: which upstream MCP servers an agent
//! reaches through Belay, each upstream tool's capability in the catalog,
//! and the risk triggers its annotations imply. The protocol itself (the
//! gateway, the upstream processes) lives in the server crate; every tool
//! call becomes an ordinary action request there.

#[cfg(feature = "ssr")]
pub mod at_stage;
#[cfg(feature = "ssr")]
pub mod endpoint;
mod manage;
#[cfg(feature = "ssr")]
mod overview;
mod pages;
#[cfg(feature = "ssr")]
pub mod removal;
#[cfg(feature = "ssr")]
pub mod store;

pub use manage::*;
pub use pages::McpPage;

use crate::error::AppError;
use crate::policy::Trigger;

/// What the server gives the lead's MCP page: a way to list an upstream's
/// tools (the MCP client lives in the server crate), and how long the
/// gateway holds a call, for the page's wording.
#[cfg(feature = "ssr")]
#[derive(Clone)]
pub struct Connector {
    list: std::sync::Arc<dyn Fn(endpoint::Endpoint) -> ListingTools + Send + Sync>,
    pub wait_secs: u64,
}

#[cfg(feature = "ssr")]
type ListingTools = std::pin::Pin<
    Box<dyn std::future::Future<Output = Result<Vec<store::NewTool>, String>> + Send>,
>;

#[cfg(feature = "ssr")]
impl Connector {
    pub fn new(
        wait_secs: u64,
        list: impl Fn(endpoint::Endpoint) -> ListingTools + Send + Sync + 'static,
    ) -> Connector {
        Connector {
            list: std::sync::Arc::new(list),
            wait_secs,
        }
    }

    /// Connects to the upstream and lists its tools; errors say why in words.
    pub async fn list_tools(
        &self,
        endpoint: &endpoint::Endpoint,
    ) -> Result<Vec<store::NewTool>, AppError> {
        (self.list)(endpoint.clone()).await.map_err(|why| {
            AppError::validation(format!("Belay could not list the upstream's tools: {why}"))
        })
    }
}

/// Longest upstream name.
pub const MAX_UPSTREAM_NAME: usize = 40;

/// An upstream's name, as the agent's tools are prefixed with and its
/// capabilities named by: 1–40 of `a-z`, `0-9`, `_` and `-`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UpstreamName(String);

impl UpstreamName {
    pub fn parse(raw: &str) -> Result<UpstreamName, AppError> {
        let name = raw.trim();
        let valid = (1..=MAX_UPSTREAM_NAME).contains(&name.len())
            && name
                .bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || matches!(b, b'_' | b'-'));
        if valid {
            Ok(UpstreamName(name.to_string()))
        } else {
            Err(AppError::validation(format!(
                "an upstream name is 1 to {MAX_UPSTREAM_NAME} characters of a-z, 0-9, '_' or '-'"
            )))
        }
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// The capability for an upstream tool: `mcp.<upstream>.<tool>`, the tool's
/// name lowercased with anything the catalog does not allow as `_`, cut to
/// the catalog's 100 characters. `taken` holds the names already given to
/// this upstream's other tools; a clash gets a numbered suffix.
pub fn capability_for(upstream: &UpstreamName, tool: &str, taken: &[String]) -> String {
    let cleaned: String = tool
        .chars()
        .map(|c| {
            let c = c.to_ascii_lowercase();
            if c.is_ascii_lowercase() || c.is_ascii_digit() || matches!(c, '_' | '.' | '-') {
                c
            } else {
                '_'
            }
        })
        .collect();
    let base: String = format!("mcp.{}.{cleaned}", upstream.as_str())
        .chars()
        .take(100)
        .collect();
    let mut name = base.clone();
    let mut n = 2;
    while taken.contains(&name) {
        let suffix = format!("-{n}");
        name = format!("{}{suffix}", &base[..base.len().min(100 - suffix.len())]);
        n += 1;
    }
    name
}

/// What an upstream says of a tool (MCP tool annotations). They are hints
/// from the upstream, so an absent one reads as the riskier value, as the
/// MCP specification's defaults do: not read-only, destructive, open world.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ToolHints {
    pub read_only: Option<bool>,
    pub destructive: Option<bool>,
    pub open_world: Option<bool>,
}

/// The risk triggers a new catalog entry for the tool starts with. A
/// read-only tool has none; any other tool is `destructive` unless it says
/// it only adds (then `production_write`), and also `external_send` unless
/// it says its world is closed. Unannotated tools fail closed.
pub fn triggers_for(h: ToolHints) -> Vec<Trigger> {
    if h.read_only == Some(true) {
        return vec![];
    }
    let mut out = vec![if h.destructive == Some(false) {
        Trigger::ProductionWrite
    } else {
        Trigger::Destructive
    }];
    if h.open_world != Some(false) {
        out.push(Trigger::ExternalSend);
    }
    out.sort();
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn upstream_names_are_short_and_plain() {
        assert!(UpstreamName::parse("files").is_ok());
        assert!(UpstreamName::parse("git-hub_2").is_ok());
        for bad in ["", "Files", "a.b", "a b", &"x".repeat(41)] {
            assert!(UpstreamName::parse(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn tool_names_become_catalog_names() {
        let up = UpstreamName::parse("files").unwrap();
        assert_eq!(capability_for(&up, "read_file", &[]), "mcp.files.read_file");
        assert_eq!(
            capability_for(&up, "Delete File!", &[]),
            "mcp.files.delete_file_"
        );
        let taken = vec!["mcp.files.delete_file_".to_string()];
        assert_eq!(
            capability_for(&up, "delete file?", &taken),
            "mcp.files.delete_file_-2"
        );
        let long = capability_for(&up, &"x".repeat(300), &[]);
        assert_eq!(long.len(), 100);
        crate::actions::submission::parse_capability(&long).unwrap();
    }

    #[test]
    fn hints_fail_closed() {
        use Trigger::*;
        assert_eq!(
            triggers_for(ToolHints::default()),
            vec![ExternalSend, Destructive]
        );
        let ro = ToolHints {
            read_only: Some(true),
            ..Default::default()
        };
        assert!(triggers_for(ro).is_empty());
        let additive_closed = ToolHints {
            read_only: Some(false),
            destructive: Some(false),
            open_world: Some(false),
        };
        assert_eq!(triggers_for(additive_closed), vec![ProductionWrite]);
        let destructive_closed = ToolHints {
            destructive: Some(true),
            open_world: Some(false),
            ..Default::default()
        };
        assert_eq!(triggers_for(destructive_closed), vec![Destructive]);
    }
}
