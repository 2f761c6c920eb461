//! MCP upstreams beyond the CLI: a lead's page for them, and the gateway
//! across replicas; `upstream` is the test upstream and a bare client.

mod page;
mod replicas;
pub mod upstream;
