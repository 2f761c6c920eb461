//! The `belay` server: configuration, startup, the agent REST API and the
//! browser's front door. The rules live in the `app` crate.

pub mod api;
pub mod audit;
pub mod backup;
pub mod cli;
pub mod config;
pub mod demo;
mod events;
mod evidence;
mod hosts;
pub mod mcp;
pub mod ops;
mod request_id;
mod site;
pub mod slack;
pub mod startup;
pub mod web;
pub mod webhooks;
