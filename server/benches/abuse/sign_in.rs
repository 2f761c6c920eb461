//! The sign-in scenes: floods of bad sign-ins while a real person signs
//! in, and guesses at one account.

use super::{Server, PASSWORD};
use std::collections::BTreeMap;
use std::time::{Duration, Instant};

/// Resident and peak memory of this process, MiB (from /proc).
fn memory() -> (u64, u64) {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    let field = |name: &str| {
        status
            .lines()
            .find(|l| l.starts_with(name))
            .and_then(|l| l.split_whitespace().nth(1))
            .and_then(|kb| kb.parse::<u64>().ok())
            .unwrap_or(0)
            / 1024
    };
    (field("VmRSS:"), field("VmHWM:"))
}

/// Starts a new peak: Linux resets VmHWM to the current RSS on "5".
fn reset_peak() {
    let _ = std::fs::write("/proc/self/clear_refs", "5");
}

pub fn client() -> reqwest::Client {
    reqwest::Client::builder()
        .timeout(Duration::from_secs(60))
        .build()
        .unwrap()
}

pub async fn sign_in(
    http: &reqwest::Client,
    s: &Server,
    user: &str,
    pass: &str,
    from: &str,
) -> (u16, u64) {
    let res = http
        .post(format!("{}/rpc/login", s.base))
        .header("Origin", &s.base)
        .header("X-Forwarded-For", from)
        .form(&[("username", user), ("password", pass), ("next", "")])
        .send()
        .await;
    match res {
        Ok(r) => {
            let wait = r
                .headers()
                .get("retry-after")
                .and_then(|v| v.to_str().ok()?.parse().ok())
                .unwrap_or(1);
            (r.status().as_u16(), wait)
        }
        Err(_) => (0, 1),
    }
}

/// A real person signing in, trying again as `Retry-After` says: how long
/// until they are in, and after how many tries.
async fn real_person(s: &Server, from: &str) -> (Duration, u32, u16) {
    let http = client();
    let start = Instant::now();
    for attempt in 1..=10 {
        let (status, wait) = sign_in(&http, s, "ada", PASSWORD, from).await;
        if status == 200 || attempt == 10 {
            return (start.elapsed(), attempt, status);
        }
        tokio::time::sleep(Duration::from_secs(wait)).await;
    }
    unreachable!()
}

pub fn ms(d: Duration) -> String {
    format!("{:.0} ms", d.as_secs_f64() * 1000.0)
}

pub async fn floods(s: &Server) {
    let http = client();
    let mut idle = Vec::new();
    for i in 0..5 {
        let start = Instant::now();
        let (status, _) = sign_in(&http, s, "ada", PASSWORD, &format!("10.9.9.{i}")).await;
        assert_eq!(status, 200);
        idle.push(start.elapsed());
    }
    idle.sort();
    let (rss, _) = memory();
    println!(
        "sign-in, idle (baseline): median {} ; memory {rss} MiB resident",
        ms(idle[2])
    );
    // What 500 connections at once cost by themselves: a made-up key,
    // refused at once.
    reset_peak();
    let start = Instant::now();
    let cheap: Vec<_> = (0..500)
        .map(|_| {
            let (http, base) = (http.clone(), s.base.clone());
            tokio::spawn(async move {
                let res = http
                    .get(format!("{base}/api/v1/me"))
                    .bearer_auth(format!("belay_{}", "A".repeat(43)))
                    .send()
                    .await;
                res.map(|r| r.status().as_u16()).unwrap_or(0)
            })
        })
        .collect();
    let mut answers: BTreeMap<u16, u32> = BTreeMap::new();
    for f in cheap {
        *answers.entry(f.await.unwrap()).or_default() += 1;
    }
    let (rss, peak) = memory();
    println!(
        "500 requests at once with a made-up key (baseline for the floods): answered in {} {answers:?}; memory peak {peak} MiB, now {rss} MiB",
        ms(start.elapsed())
    );
    for (scene, spread) in [
        ("500 bad sign-ins at once from one address", false),
        ("500 bad sign-ins at once from 500 addresses", true),
    ] {
        reset_peak();
        let start = Instant::now();
        let flood: Vec<_> = (0..500)
            .map(|i| {
                let (http, s) = (http.clone(), (s.base.clone(), spread));
                let from = if s.1 {
                    format!("100.64.{}.{}", i / 200, i % 200)
                } else {
                    "203.0.113.1".into()
                };
                let base = s.0;
                tokio::spawn(async move {
                    let res = http
                        .post(format!("{base}/rpc/login"))
                        .header("Origin", &base)
                        .header("X-Forwarded-For", from)
                        .form(&[
                            ("username", format!("guess{i}-{spread}")),
                            ("password", "wrong".into()),
                            ("next", String::new()),
                        ])
                        .send()
                        .await;
                    res.map(|r| r.status().as_u16()).unwrap_or(0)
                })
            })
            .collect();
        let person = real_person(
            s,
            if spread {
                "198.51.100.2"
            } else {
                "198.51.100.1"
            },
        );
        let (took, tries, status) = person.await;
        let mut answers: BTreeMap<u16, u32> = BTreeMap::new();
        for f in flood {
            *answers.entry(f.await.unwrap()).or_default() += 1;
        }
        let (rss, peak) = memory();
        println!(
            "{scene}: answered in {} {answers:?}; a real person got {status} after {} ({tries} tries); memory peak {peak} MiB, now {rss} MiB",
            ms(start.elapsed()),
            ms(took)
        );
    }
}

pub async fn guesses(s: &Server) {
    let http = client();
    let start = Instant::now();
    let mut answers: BTreeMap<u16, u32> = BTreeMap::new();
    let mut first_throttled = None;
    let mut longest_wait = 0;
    for i in 1..=50 {
        let (status, wait) = sign_in(&http, s, "bob", "guess", "192.0.2.50").await;
        *answers.entry(status).or_default() += 1;
        if status == 429 {
            first_throttled.get_or_insert(i);
            longest_wait = longest_wait.max(wait);
        }
    }
    println!(
        "50 guesses in a row at one account: {answers:?} in {}; throttled from guess {:?}; Retry-After up to {longest_wait} s",
        ms(start.elapsed()),
        first_throttled
    );
}
