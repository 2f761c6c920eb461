//! After the last kill: every acknowledged submission is in the database
//! with the decision it was answered with and its audit row, and the audit
//! chain verifies (`belay audit verify`, the operator's own check).

use super::drive::Ack;
use sqlx::Row;
use std::collections::{HashMap, HashSet};

#[derive(Default)]
pub struct Found {
    pub lost: Vec<String>,
    pub wrong_decision: Vec<String>,
    pub without_audit: Vec<String>,
    pub rows: usize,
    /// `belay audit verify`'s last line.
    pub chain: String,
    pub chain_ok: bool,
}

pub async fn database(url: &str, acked: &[Ack]) -> Found {
    sqlx::any::install_default_drivers();
    let db = sqlx::AnyPool::connect(url)
        .await
        .expect("the database opens after the last kill");
    let decisions: HashMap<String, String> =
        sqlx::query("SELECT id, decision FROM action_requests")
            .fetch_all(&db)
            .await
            .expect("requests read")
            .iter()
            .map(|r| (r.get("id"), r.get("decision")))
            .collect();
    let audited: HashSet<String> =
        sqlx::query("SELECT subject_id FROM audit_events WHERE what = 'action.submitted'")
            .fetch_all(&db)
            .await
            .expect("audit read")
            .iter()
            .map(|r| r.get("subject_id"))
            .collect();
    db.close().await;
    let mut found = Found {
        rows: decisions.len(),
        ..Found::default()
    };
    for a in acked {
        match decisions.get(&a.id) {
            None => found.lost.push(format!("{} ({})", a.id, a.sub.key)),
            Some(d) if *d != a.decision => found
                .wrong_decision
                .push(format!("{}: answered {}, stored {d}", a.id, a.decision)),
            Some(_) => {}
        }
        if !audited.contains(&a.id) {
            found.without_audit.push(a.id.clone());
        }
    }
    let url = url.to_string();
    let out = tokio::task::spawn_blocking(move || {
        std::process::Command::new(super::server::BELAY)
            .args(["audit", "verify"])
            .env("DATABASE_URL", &url)
            .env("RUST_LOG", "error")
            .output()
            .expect("belay audit verify runs")
    })
    .await
    .expect("joined");
    found.chain_ok = out.status.success();
    found.chain = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
    .trim()
    .to_string();
    found
}
