//! A run's name as the agent chose it, and Belay's id for it.

use crate::error::AppError;
use sha2::{Digest, Sha256};

/// Longest run name an agent may choose.
pub const MAX_RUN_KEY: usize = 100;

/// A run name: 1 to 100 of `A-Z a-z 0-9 . _ : -`, so it fits in a URL
/// path as is and never needs escaping where it is shown.
pub fn parse(raw: &str) -> Result<String, AppError> {
    let valid = (1..=MAX_RUN_KEY).contains(&raw.len())
        && raw
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b':' | b'-'));
    if valid {
        Ok(raw.to_string())
    } else {
        Err(AppError::validation(
            "run_id must be 1 to 100 characters of A-Z, a-z, 0-9, '.', '_', ':' or '-'",
        ))
    }
}

/// Belay's id of the agent's run `key`: derived from both, so two agents
/// that choose the same name have two runs, and the submission writer
/// knows the id without reading anything. A UUID (version 8) like every
/// other id in Belay.
pub fn run_id(agent_id: &str, key: &str) -> String {
    let digest = Sha256::new()
        .chain_update(b"belay run\0")
        .chain_update(agent_id.as_bytes())
        .chain_update(b"\0")
        .chain_update(key.as_bytes())
        .finalize();
    let mut bytes = [0u8; 16];
    bytes.copy_from_slice(&digest[..16]);
    uuid::Builder::from_custom_bytes(bytes)
        .into_uuid()
        .to_string()
}

/// Belay's id of the run a submission names, if it names one.
pub fn of(agent_id: &str, key: &Option<String>) -> Option<String> {
    key.as_deref().map(|k| run_id(agent_id, k))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn run_names_are_bounded_and_plain() {
        assert_eq!(parse("task-42:retry_1.b").unwrap(), "task-42:retry_1.b");
        for bad in ["", " x", "a/b", "ü", "<b>", &"x".repeat(101)] {
            assert!(parse(bad).is_err(), "{bad:?}");
        }
        assert!(parse(&"x".repeat(100)).is_ok());
    }

    #[test]
    fn a_run_id_is_per_agent_and_stable() {
        let a = run_id("agent-a", "r1");
        assert_eq!(a, run_id("agent-a", "r1"));
        assert_ne!(a, run_id("agent-b", "r1"));
        assert_ne!(a, run_id("agent-a", "r2"));
        assert!(uuid::Uuid::try_parse(&a).is_ok());
    }
}
