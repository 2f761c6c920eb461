//! Operating Belay: whether a replica may take traffic (`ready`), and what
//! it counts for Prometheus (`metrics`). The server's front door serves
//! both (`/readyz`, `/metrics`); the counting happens here, called from the
//! one place in the rule book where each counted thing happens.

pub mod metrics;
pub mod ready;
