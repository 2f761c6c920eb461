//! The benchmark's history: a reviewer, 100 agents and `history` requests
//! over 90 days, the last 10,000 of them pending (with evidence), written
//! in large multi-row inserts; then the rollups the write path would have
//! kept for them, built from the requests.

use app::audit::Actor;
use app::auth::{users, Role};
use app::db::{new_id, now_ms, Db};
use app::policy::{RuleKey, Stage};
use app::trust::{daily, rollup};

pub const PENDING: usize = 10_000;
pub const PASSWORD: &str = "correct horse battery staple";
const AGENTS: usize = 100;
const DAY_MS: i64 = 24 * 3600 * 1000;
/// Capabilities and what held them, as the queue would show.
const KINDS: [(&str, &str, &str, i64); 5] = [
    (
        "email.send",
        "external_send,customer_visible",
        "external_send,customer_visible",
        30,
    ),
    (
        "billing.refund",
        "purchase,customer_visible",
        "purchase,customer_visible",
        50,
    ),
    (
        "records.delete",
        "destructive,production_write",
        "destructive,production_write",
        60,
    ),
    (
        "crm.update_record",
        "production_write",
        "production_write,first_use",
        25,
    ),
    ("payments.wire", "", "unknown_capability", 100),
];

/// What a filled database holds that the pages are asked about.
pub struct Filled {
    /// An agent with requests waiting.
    pub agent: String,
    /// The last pending request: its agent has `history / 100` requests
    /// with its capability behind the request page's record.
    pub pending_id: String,
}

pub async fn fill(db: &Db, history: usize) -> Filled {
    users::create(db, &Actor::System, "rita", Role::Reviewer, PASSWORD.into())
        .await
        .unwrap();
    let rita: String = {
        use sqlx::Row;
        sqlx::query("SELECT id FROM users WHERE username = 'rita'")
            .fetch_one(db)
            .await
            .unwrap()
            .get("id")
    };
    let mut agents = Vec::new();
    let mut tx = db.begin().await.unwrap();
    for i in 0..AGENTS {
        let id = new_id();
        let stage = [
            Stage::Propose,
            Stage::ActWithApproval,
            Stage::ScopedAutonomy,
        ][i % 3];
        sqlx::query("INSERT INTO agents (id, name, purpose, sponsor_id, status, stage, created_at) VALUES ($1, $2, 'bench', $3, 'active', $4, $5)")
            .bind(&id)
            .bind(format!("agent-{i:03}"))
            .bind(&rita)
            .bind(stage.as_str())
            .bind(now_ms())
            .execute(&mut *tx)
            .await
            .unwrap();
        agents.push((id, stage));
    }
    tx.commit().await.unwrap();

    let start = now_ms() - 90 * DAY_MS;
    let step = (90 * DAY_MS) / history.max(1) as i64;
    let mut pending_id = String::new();
    const ROWS: usize = 500;
    for chunk_start in (0..history).step_by(ROWS) {
        let n = ROWS.min(history - chunk_start);
        let mut sql = String::from(
            "INSERT INTO action_requests (id, agent_id, capability, capability_known, target, summary, params, \
             decision, reasons, triggers, stage, policy_version, state, payload_hash, created_at, expires_at, \
             updated_at, held_for, rules, approvals_required, risk, held_mask, decided_at, decided_by) VALUES ",
        );
        let mut rows = Vec::with_capacity(n);
        for k in 0..n {
            let i = chunk_start + k;
            let pending = i >= history - PENDING;
            let (agent_id, stage) = &agents[i % AGENTS];
            // Each agent keeps to one capability: 10,000 requests per agent and
            // capability in the large history, the worst case for its record.
            let (cap, triggers, held, risk) = KINDS[(i * 7) % KINDS.len()];
            // An approval is claimed within its window or expires, except
            // at propose, where a person carries it out: those stay approved.
            let state = match i % 5 {
                _ if pending => "pending_approval",
                0 if *stage == Stage::Propose => "approved",
                0 | 2 => "succeeded",
                1 => "rejected",
                3 => "allowed",
                _ => "expired",
            };
            let decision = if state == "allowed" {
                "allowed"
            } else {
                "pending_approval"
            };
            // What a reviewer decided names them; expiry and the policy do not.
            let decided_by = match state {
                "approved" | "rejected" | "succeeded" => format!("'{rita}'"),
                _ => "NULL".into(),
            };
            let id = new_id();
            if pending {
                pending_id = id.clone();
            }
            let created = start + i as i64 * step;
            if k > 0 {
                sql.push(',');
            }
            sql.push_str(&format!(
                "('{id}', '{agent_id}', '{cap}', {known}, 'customer-{c}', 'bench action {i}', '{{\"amount\": {a}}}', \
                 '{decision}', '[\"paused: {held}\"]', '{triggers}', '{stage}', 1, '{state}', 'h{i}', {created}, {exp}, \
                 {created}, '{held}', '[]', 1, {risk}, {mask}, {decided}, {decided_by})",
                known = i64::from(cap != "payments.wire"),
                c = i % 5000,
                a = i % 900,
                mask = RuleKey::mask(
                    &held.split(',').map(|k| RuleKey::parse(k).unwrap()).collect::<Vec<_>>()
                ),
                stage = stage.as_str(),
                exp = if pending { (now_ms() + 7 * DAY_MS).to_string() } else { "NULL".into() },
                decided = if pending { "NULL".to_string() } else { (created + 60_000).to_string() },
            ));
            rows.push((id, pending));
        }
        let mut tx = db.begin().await.unwrap();
        sqlx::query(&sql).execute(&mut *tx).await.unwrap();
        for (id, _) in rows.iter().filter(|(_, pending)| *pending) {
            sqlx::query("INSERT INTO evidence (id, action_id, kind, media_type, size_bytes, sha256, content, created_at) VALUES ($1, $2, 'plan', 'text/plain', 9, 'x', $3, 0)")
                .bind(new_id())
                .bind(id)
                .bind(b"1. do it\n".to_vec())
                .execute(&mut *tx)
                .await
                .unwrap();
        }
        tx.commit().await.unwrap();
    }
    for (agent, _) in &agents {
        backfill(db, agent).await;
    }
    sqlx::query("ANALYZE").execute(db).await.unwrap();
    Filled {
        agent: agents[7].0.clone(),
        pending_id,
    }
}

/// The rollups the write path would have kept, built from the requests.
async fn backfill(db: &Db, agent: &str) {
    let today = now_ms().div_euclid(DAY_MS);
    let (rows, people) = daily::raw(db, agent, today, 100).await.unwrap();
    let mut tx = db.begin().await.unwrap();
    rollup::add_many(
        &mut tx,
        rows.into_iter()
            .map(|r| (agent.to_string(), r.capability, r.day * DAY_MS, r.counts)),
    )
    .await
    .unwrap();
    for p in people {
        rollup::add_reviewer(&mut tx, agent, &p.capability, p.day * DAY_MS, &p.user_id)
            .await
            .unwrap();
    }
    tx.commit().await.unwrap();
}
