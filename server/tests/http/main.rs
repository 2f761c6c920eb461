//! The HTTP integration suite: one test binary, so the server is linked once
//! rather than once per file (each link is hundreds of MB and minutes here).
//! Every test starts the real server on a random port with a fresh database.

mod abuse;
mod agent_api;
mod approval_window;
mod approvals;
mod audit_trail;
mod backup;
mod browser;
mod browser_front_door;
mod cli;
mod common;
mod evidence_and_idempotency;
mod evidence_view;
mod front_end;
mod mcp_gateway;
mod mcp_upstreams;
mod operable;
mod people;
mod policy;
mod promotion;
mod quotas;
mod races;
mod replicas;
mod request_record;
mod review;
mod review_queue;
mod reviewer_api;
mod runs;
mod runs_client;
mod scope;
mod second_lead;
mod slack;
mod spot_checks;
mod trust;
mod trust_metrics;
mod two_person;
mod upgrades;
mod webhook_receiver;
mod webhooks;
mod webhooks_restart;
