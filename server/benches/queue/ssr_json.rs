//! P6: the queue page rendered by the server against the same rows as JSON.
//! `GET /approvals` renders the whole page (the queue's first page and its
//! filter choices, the layout, and the data the browser hydrates from);
//! `POST /rpc/approvals/queue` is the server function that page calls, the
//! same query and rows serialized as JSON. Both from 8 connections, in
//! alternating rounds so that other load on the machine falls on both.

use super::Server;
use std::time::{Duration, Instant};

const CONNECTIONS: usize = 8;
const ROUNDS: u32 = 5;

#[derive(Clone, Copy, PartialEq)]
enum Kind {
    Ssr,
    Json,
}

pub async fn compare(server: &Server, each: Duration) {
    // The rendered page holds the rows themselves, not a placeholder.
    let json: serde_json::Value = server
        .rpc("approvals/queue", &[])
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let summary = json["rows"][0]["summary"].as_str().unwrap().to_string();
    let last = json["rows"][49]["summary"].as_str().unwrap().to_string();
    let html = server
        .http
        .get(format!("{}/approvals", server.base))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        html.contains(&format!(">{summary}<")) && html.contains(&format!(">{last}<")),
        "the server-rendered queue shows its rows"
    );
    println!(
        "\nP6, queue first page, {CONNECTIONS} connections, {ROUNDS} alternating rounds of {:.1} s each:",
        each.as_secs_f64() / f64::from(ROUNDS)
    );
    let round = each / ROUNDS;
    let mut done = [(0u64, Duration::ZERO); 2];
    for r in 0..ROUNDS {
        let order = if r % 2 == 0 {
            [Kind::Ssr, Kind::Json]
        } else {
            [Kind::Json, Kind::Ssr]
        };
        for kind in order {
            let (n, took) = run(server, kind, round).await;
            let slot = &mut done[usize::from(kind == Kind::Json)];
            slot.0 += n;
            slot.1 += took;
        }
    }
    let rate = |(n, took): (u64, Duration)| n as f64 / took.as_secs_f64();
    let (ssr, json_rate) = (rate(done[0]), rate(done[1]));
    println!(
        "  SSR  GET /approvals             {ssr:>8.0} req/s  ({} bytes)",
        html.len()
    );
    println!(
        "  JSON POST /rpc/approvals/queue  {json_rate:>8.0} req/s  ({} bytes)",
        json.to_string().len()
    );
    println!(
        "  SSR / JSON: {:.0} % (goal >= 25 %)",
        100.0 * ssr / json_rate
    );
}

/// Requests of one kind from every connection until `length` has passed:
/// how many completed, and how long that took.
async fn run(server: &Server, kind: Kind, length: Duration) -> (u64, Duration) {
    let started = Instant::now();
    let deadline = started + length;
    let workers: Vec<_> = (0..CONNECTIONS)
        .map(|_| {
            let (http, base) = (server.http.clone(), server.base.clone());
            tokio::spawn(async move {
                let mut n = 0u64;
                while Instant::now() < deadline {
                    let req = match kind {
                        Kind::Ssr => http.get(format!("{base}/approvals")),
                        Kind::Json => http
                            .post(format!("{base}/rpc/approvals/queue"))
                            .header("Origin", &base)
                            .form(&[] as &[(&str, &str)]),
                    };
                    let res = req.send().await.unwrap();
                    assert_eq!(res.status(), 200);
                    res.bytes().await.unwrap();
                    n += 1;
                }
                n
            })
        })
        .collect();
    let mut total = 0;
    for w in workers {
        total += w.await.unwrap();
    }
    (total, started.elapsed())
}
