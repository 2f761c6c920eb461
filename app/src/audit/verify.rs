//! Walking the chain: the first event that was changed, removed, inserted
//! or reordered is named, and a head kept elsewhere also catches a cut tail
//! or a chain rewritten from some point on.

use super::chain::{self, Link, GENESIS};
use crate::db::Db;
use crate::error::AppError;
use sqlx::Row;

/// Checks links one after another.
pub struct Walk {
    next_n: i64,
    prev: String,
    pub checked: u64,
}

impl Walk {
    /// A walk from the first event.
    pub fn from_genesis() -> Walk {
        Walk {
            next_n: 1,
            prev: GENESIS.to_string(),
            checked: 0,
        }
    }

    /// A walk that trusts where `first` says it starts (an export's first
    /// line names the event before it by hash; the rest must follow).
    pub fn from(first: &Link) -> Walk {
        Walk {
            next_n: first.n,
            prev: first.prev.clone(),
            checked: 0,
        }
    }

    /// The next link, or why the chain breaks there.
    pub fn check(&mut self, link: &Link) -> Result<(), String> {
        let at = || {
            format!(
                "event {} ({} {} on {} {}, id {})",
                link.n, link.actor_kind, link.what, link.subject_kind, link.subject_id, link.id
            )
        };
        if link.n > self.next_n {
            return Err(format!(
                "event {} is missing: removed (the chain goes on at {})",
                self.next_n,
                at()
            ));
        }
        if link.n < self.next_n {
            return Err(format!("{} is out of order: reordered or inserted", at()));
        }
        if link.digest() != link.hash {
            return Err(format!(
                "{} was changed: its hash does not match what it holds",
                at()
            ));
        }
        if link.prev != self.prev {
            return Err(format!(
                "{} does not follow event {}: inserted, removed or reordered here",
                at(),
                link.n - 1
            ));
        }
        self.next_n += 1;
        self.prev = link.hash.clone();
        self.checked += 1;
        Ok(())
    }

    /// The last event checked: (n, hash).
    pub fn end(&self) -> (i64, &str) {
        (self.next_n - 1, &self.prev)
    }
}

/// A head kept elsewhere: `N:HASH` as `belay audit head` printed it.
pub fn parse_head(raw: &str) -> Result<(i64, String), String> {
    let (n, hash) = raw
        .trim()
        .split_once(':')
        .ok_or("a head is N:HASH, as `belay audit head` prints it")?;
    let n = n
        .parse::<i64>()
        .map_err(|_| format!("{n:?} is not an event number"))?;
    if hash.len() != 64 || !hash.bytes().all(|b| b.is_ascii_hexdigit()) {
        return Err("the hash of a head is 64 hex digits".into());
    }
    Ok((n, hash.to_ascii_lowercase()))
}

/// What a verification found: how many events held, or the first break.
pub type Finding = Result<u64, String>;

/// Verifies the database's chain from its first event, against its own
/// head and, if given, a head kept elsewhere.
pub async fn database(db: &Db, kept: Option<(i64, String)>) -> Result<Finding, AppError> {
    const PAGE: i64 = 10_000;
    // The head first: events appended while the walk runs are not its
    // business, and do not make a live trail look cut.
    let (head_n, head_hash) = chain::head(db).await?;
    let outside: i64 = sqlx::query(
        "SELECT COUNT(*) AS n FROM audit_events WHERE chain_no IS NULL OR chain_no < 1",
    )
    .fetch_one(db)
    .await?
    .try_get("n")?;
    let mut walk = Walk::from_genesis();
    let mut kept_seen = kept.as_ref().is_some_and(|(n, _)| *n == 0);
    // Reading the next page overlaps with checking this one.
    let fetch = |from: i64| {
        let db = db.clone();
        tokio::spawn(async move { chain::page(&db, from, head_n, PAGE).await })
    };
    let mut next = Some(fetch(1));
    while let Some(page) = next.take() {
        let links = page.await.map_err(|_| AppError::Internal)??;
        if let (true, Some(last)) = (links.len() as i64 == PAGE, links.last()) {
            next = Some(fetch(last.n + 1));
        }
        for link in &links {
            if let Err(why) = walk.check(link) {
                return Ok(Err(why));
            }
            if let Some((n, hash)) = &kept {
                if link.n == *n {
                    if &link.hash != hash {
                        return Ok(Err(format!(
                            "event {n} no longer has the kept head's hash: the chain was rewritten from there or before"
                        )));
                    }
                    kept_seen = true;
                }
            }
        }
    }
    if outside > 0 {
        return Ok(Err(format!(
            "{outside} event(s) stand outside the chain: inserted behind Belay's back"
        )));
    }
    let (end_n, end_hash) = walk.end();
    if end_n != head_n || end_hash != head_hash {
        return Ok(Err(format!(
            "the chain ends at event {end_n} but its head says {head_n}: events at its end were removed or added behind Belay's back"
        )));
    }
    if let Some((n, _)) = kept {
        if !kept_seen {
            return Ok(Err(format!(
                "the kept head is event {n} but the chain ends at {end_n}: its tail was cut"
            )));
        }
    }
    Ok(Ok(walk.checked))
}

/// Verifies an export (JSON Lines of links) on its own.
pub fn lines(text: &str) -> Finding {
    let mut walk: Option<Walk> = None;
    for (i, line) in text
        .lines()
        .enumerate()
        .filter(|(_, l)| !l.trim().is_empty())
    {
        let link: Link = serde_json::from_str(line)
            .map_err(|e| format!("line {}: not an audit event ({e})", i + 1))?;
        walk.get_or_insert_with(|| Walk::from(&link)).check(&link)?;
    }
    Ok(walk.map_or(0, |w| w.checked))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn chain(len: i64) -> Vec<Link> {
        let mut prev = GENESIS.to_string();
        (1..=len)
            .map(|n| {
                let mut l = Link {
                    n,
                    prev: prev.clone(),
                    id: format!("id-{n}"),
                    at: n * 1000,
                    actor_kind: "user".into(),
                    actor_id: Some("u".into()),
                    what: "thing.done".into(),
                    subject_kind: "thing".into(),
                    subject_id: format!("t{n}"),
                    detail: r#"{"after":{"n":1}}"#.into(),
                    hash: String::new(),
                };
                l.hash = l.digest();
                prev = l.hash.clone();
                l
            })
            .collect()
    }

    fn walk(links: &[Link]) -> Finding {
        let mut w = Walk::from_genesis();
        for l in links {
            w.check(l)?;
        }
        Ok(w.checked)
    }

    #[test]
    fn an_intact_chain_holds_and_each_tamper_is_named() {
        let links = chain(5);
        assert_eq!(walk(&links), Ok(5));

        let mut changed = links.clone();
        changed[2].detail = r#"{"after":{"n":2}}"#.into();
        assert!(walk(&changed)
            .unwrap_err()
            .contains("event 3 (user thing.done on thing t3, id id-3) was changed"));

        let mut removed = links.clone();
        removed.remove(1);
        assert!(walk(&removed)
            .unwrap_err()
            .starts_with("event 2 is missing"));

        let mut swapped = links.clone();
        swapped.swap(1, 2);
        assert!(walk(&swapped).unwrap_err().contains("event 3"));

        // A forged link with a good hash of its own still does not follow.
        let mut forged = links.clone();
        forged[3].prev = GENESIS.into();
        forged[3].hash = forged[3].digest();
        assert!(walk(&forged)
            .unwrap_err()
            .contains("does not follow event 3"));
    }

    #[test]
    fn heads_parse_and_exports_verify_on_their_own() {
        assert!(parse_head("12:abc").is_err());
        let h = "a".repeat(64);
        assert_eq!(parse_head(&format!(" 12:{h}\n")), Ok((12, h)));
        let links = chain(6);
        let text: String = links[2..]
            .iter()
            .map(|l| serde_json::to_string(l).unwrap() + "\n")
            .collect();
        assert_eq!(lines(&text), Ok(4));
        let cut = text.replacen("id-4", "id-X", 1);
        assert!(lines(&cut).unwrap_err().contains("was changed"));
    }
}
