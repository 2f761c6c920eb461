//! Submissions at full speed, each with its own `Idempotency-Key`, and the
//! ledger of what the server answered: 201s (acknowledged, so they must
//! survive anything) and requests whose answer never came (the server died
//! with them in flight; the agent retries them with the same key).

use super::server::Agent;
use reqwest::StatusCode;
use serde_json::{json, Value};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

/// One submission as an agent makes it, and remakes it to retry.
#[derive(Clone)]
pub struct Sub {
    pub agent: usize,
    pub key: String,
    pub body: Value,
}

/// A submission the server answered 201.
#[derive(Clone)]
pub struct Ack {
    pub sub: Sub,
    pub id: String,
    pub decision: String,
}

#[derive(Default)]
pub struct Phase {
    pub acked: Vec<Ack>,
    pub unanswered: Vec<Sub>,
    /// Answers that are neither a 201 nor a dropped connection: wrong.
    pub unexpected: Vec<String>,
}

/// What an answer was.
pub enum Answer {
    Created {
        id: String,
        decision: String,
        replayed: bool,
    },
    Other(String),
    Lost(String),
}

pub fn client() -> reqwest::Client {
    reqwest::Client::builder()
        .timeout(Duration::from_secs(30))
        .build()
        .expect("HTTP client")
}

pub async fn send(http: &reqwest::Client, base: &str, agents: &[Agent], sub: &Sub) -> Answer {
    let res = http
        .post(format!("{base}/api/v1/actions"))
        .bearer_auth(&agents[sub.agent].key)
        .header("Idempotency-Key", &sub.key)
        .json(&sub.body)
        .send()
        .await;
    let res = match res {
        Ok(res) => res,
        Err(e) => return Answer::Lost(e.to_string()),
    };
    let status = res.status();
    let replayed = res
        .headers()
        .get("idempotent-replayed")
        .is_some_and(|v| v == "true");
    let body = match res.bytes().await {
        Ok(b) => b,
        // The head came and the body did not: as good as no answer.
        Err(e) => return Answer::Lost(e.to_string()),
    };
    if status != StatusCode::CREATED {
        return Answer::Other(format!("{status}: {}", String::from_utf8_lossy(&body)));
    }
    let v: Value = match serde_json::from_slice(&body) {
        Ok(v) => v,
        Err(e) => return Answer::Other(format!("201 with a body that is not JSON: {e}")),
    };
    match (v["id"].as_str(), v["decision"].as_str()) {
        (Some(id), Some(decision)) => Answer::Created {
            id: id.to_string(),
            decision: decision.to_string(),
            replayed,
        },
        _ => Answer::Other(format!("201 without an id and a decision: {v}")),
    }
}

/// `workers` agents' loops, each submitting as fast as it is answered,
/// until the server stops answering.
pub async fn full_speed(
    base: String,
    agents: Arc<Vec<Agent>>,
    workers: usize,
    seq: Arc<AtomicU64>,
) -> Phase {
    let mut tasks = Vec::new();
    for w in 0..workers {
        let (base, agents, seq) = (base.clone(), agents.clone(), seq.clone());
        tasks.push(tokio::spawn(async move {
            let http = client();
            let mut phase = Phase::default();
            loop {
                let n = seq.fetch_add(1, Ordering::Relaxed);
                let agent = w % agents.len();
                let sub = Sub {
                    agent,
                    key: format!("crash-{n}"),
                    body: json!({
                        "capability": agents[agent].capability,
                        "target": format!("customer-{n}"),
                        "summary": format!("crash test submission {n}"),
                        "params": {"n": n, "note": "what was acknowledged must survive a kill -9"},
                    }),
                };
                match send(&http, &base, &agents, &sub).await {
                    Answer::Created { id, decision, .. } => {
                        phase.acked.push(Ack { sub, id, decision })
                    }
                    Answer::Other(what) => {
                        phase.unexpected.push(format!("{}: {what}", sub.key));
                        phase.unanswered.push(sub);
                        break;
                    }
                    Answer::Lost(_) => {
                        phase.unanswered.push(sub);
                        break;
                    }
                }
            }
            phase
        }));
    }
    let mut all = Phase::default();
    for t in tasks {
        let p = t.await.expect("a worker panicked");
        all.acked.extend(p.acked);
        all.unanswered.extend(p.unanswered);
        all.unexpected.extend(p.unexpected);
    }
    all
}
