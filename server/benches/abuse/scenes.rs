//! The other scenes of the abuse benchmark: evidence pages, a big body
//! behind a made-up key, an agent over its quota.

use super::sign_in::{client, ms, sign_in};
use super::{Server, PASSWORD};
use serde_json::json;
use std::collections::BTreeMap;
use std::time::{Duration, Instant};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

async fn submit(
    http: &reqwest::Client,
    s: &Server,
    key: &str,
    body: serde_json::Value,
) -> (u16, String) {
    let res = http
        .post(format!("{}/api/v1/actions", s.base))
        .bearer_auth(key)
        .json(&body)
        .send()
        .await
        .unwrap();
    let status = res.status().as_u16();
    let body: serde_json::Value = res.json().await.unwrap_or_default();
    (status, body["id"].as_str().unwrap_or_default().to_string())
}

pub async fn evidence_pages(s: &Server) {
    let http = client();
    let (_, key) = s.key("tables");
    let table = |rows: usize, keys: usize| {
        let rows: Vec<_> = (0..rows)
            .map(|i| {
                let mut row = serde_json::Map::new();
                for k in 0..keys {
                    row.insert(format!("k{}", if keys == 1 { i } else { k }), json!(i));
                }
                row
            })
            .collect();
        json!({"capability": "crm.export", "target": "t", "summary": "a table",
               "evidence": [{"type": "extracted_data", "content": rows}]})
    };
    let (_, small) = submit(&http, s, key, table(20, 5)).await;
    let (status, quadratic) = submit(&http, s, key, table(12_000, 1)).await;
    assert_eq!(status, 201, "the quadratic table is accepted");
    let browser = reqwest::Client::builder()
        .cookie_store(true)
        .build()
        .unwrap();
    assert_eq!(
        sign_in(&browser, s, "ada", PASSWORD, "10.8.8.8").await.0,
        200
    );
    for (name, id) in [
        ("a 20 × 5 table (baseline)", small),
        ("a 12,000 × 12,000 quadratic table", quadratic),
    ] {
        let mut times = Vec::new();
        let mut size = 0;
        let mut said = false;
        for i in 0..22 {
            let start = Instant::now();
            let res = browser
                .get(format!("{}/approvals/{id}", s.base))
                .send()
                .await
                .unwrap();
            assert_eq!(res.status(), 200);
            let body = res.text().await.unwrap();
            if i >= 2 {
                times.push(start.elapsed());
            }
            size = body.len();
            said = body.contains("Showing 200 of 12000 rows");
        }
        times.sort();
        println!(
            "request page with {name}: p50 {}, p95 {}, {} KB{}",
            ms(times[10]),
            ms(times[19]),
            size / 1000,
            if said {
                "; says \"Showing 200 of 12000 rows\""
            } else {
                ""
            }
        );
    }
}

/// Announces 16 MiB behind `key`. With `send_body`, sends all of it and
/// then reads the answer; without, sends none and waits for the answer.
async fn big_body(s: &Server, key: &str, send_body: bool) -> (String, Duration) {
    let addr = s.base.trim_start_matches("http://").to_string();
    let mut tcp = tokio::net::TcpStream::connect(&addr).await.unwrap();
    let len = 16 * 1024 * 1024;
    let head = format!(
        "POST /api/v1/actions HTTP/1.1\r\nHost: {addr}\r\nAuthorization: Bearer {key}\r\n\
         Content-Type: application/json\r\nContent-Length: {len}\r\n\r\n"
    );
    let start = Instant::now();
    tcp.write_all(head.as_bytes()).await.unwrap();
    if send_body {
        let chunk = vec![b' '; 64 * 1024];
        for _ in 0..len / chunk.len() {
            tcp.write_all(&chunk).await.unwrap();
        }
    }
    let mut buf = vec![0u8; 4096];
    let n = tokio::time::timeout(Duration::from_secs(30), tcp.read(&mut buf))
        .await
        .unwrap()
        .unwrap_or(0);
    let line = String::from_utf8_lossy(&buf[..n])
        .lines()
        .next()
        .unwrap_or("")
        .to_string();
    (line, start.elapsed())
}

pub async fn fake_key_body(s: &Server) {
    let fake = format!("belay_{}", "A".repeat(43));
    let (_, real) = s.key("calm");
    let (line, took) = big_body(s, real, true).await;
    println!(
        "16 MiB body with a real key, all sent (baseline): {line:?} after {}",
        ms(took)
    );
    let (line, took) = big_body(s, &fake, false).await;
    println!(
        "16 MiB announced with a made-up key, no byte of it sent: {line:?} after {}",
        ms(took)
    );
}

pub async fn quota(s: &Server) {
    let (noisy_id, noisy) = s.key("noisy");
    let (calm_id, calm) = s.key("calm");
    let by = app::audit::Actor::System;
    let own = |per_minute, pending| app::quota::limits::Overrides {
        submissions_per_minute: per_minute,
        pending,
        ..Default::default()
    };
    app::quota::store::set(&s.db, &by, noisy_id, own(Some(120), None))
        .await
        .unwrap();
    app::quota::store::set(&s.db, &by, calm_id, own(Some(100_000), Some(1_000_000)))
        .await
        .unwrap();
    let body = json!({"capability": "docs.summarize", "target": "t", "summary": "s"});
    let calm_for = |secs| {
        let (body, calm, s_base) = (body.clone(), calm.to_string(), s.base.clone());
        async move {
            let http = client();
            let (mut times, mut other) = (Vec::new(), 0);
            let end = Instant::now() + Duration::from_secs(secs);
            while Instant::now() < end {
                let start = Instant::now();
                let res = http
                    .post(format!("{s_base}/api/v1/actions"))
                    .bearer_auth(&calm)
                    .json(&body)
                    .send()
                    .await
                    .unwrap();
                if res.status() == 201 {
                    times.push(start.elapsed())
                } else {
                    other += 1
                }
            }
            times.sort();
            (
                times.len(),
                times[times.len() / 2],
                times[times.len() * 99 / 100],
                other,
            )
        }
    };
    let (n, p50, p99, other) = calm_for(3).await;
    println!(
        "another agent alone (baseline): {n} decided in 3 s, p50 {}, p99 {}, {other} refused",
        ms(p50),
        ms(p99)
    );
    let end = Instant::now() + Duration::from_secs(3);
    let noise: Vec<_> = (0..16)
        .map(|_| {
            let (http, body, key, base) =
                (client(), body.clone(), noisy.to_string(), s.base.clone());
            tokio::spawn(async move {
                let mut answers: BTreeMap<u16, u32> = BTreeMap::new();
                while Instant::now() < end {
                    let res = http
                        .post(format!("{base}/api/v1/actions"))
                        .bearer_auth(&key)
                        .json(&body)
                        .send()
                        .await;
                    *answers
                        .entry(res.map(|r| r.status().as_u16()).unwrap_or(0))
                        .or_default() += 1;
                }
                answers
            })
        })
        .collect();
    let (n, p50, p99, other) = calm_for(3).await;
    let mut noisy_answers: BTreeMap<u16, u32> = BTreeMap::new();
    for task in noise {
        for (k, v) in task.await.unwrap() {
            *noisy_answers.entry(k).or_default() += v;
        }
    }
    println!(
        "an agent over its quota (120 a minute, 16 connections): {noisy_answers:?}; meanwhile the other agent: {n} decided in 3 s, p50 {}, p99 {}, {other} refused",
        ms(p50),
        ms(p99)
    );
}
