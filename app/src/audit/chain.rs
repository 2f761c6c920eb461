//! The audit trail as a hash chain: event `n` carries the hash of event
//! `n - 1`, and its own hash covers its place, that link and every field,
//! as canonical JSON (RFC 8785). Changing, removing, inserting or
//! reordering an event breaks the chain at that event; cutting the tail
//! shows against a head kept elsewhere (`belay audit head`).

use crate::db::{placeholders, Db, Tx};
use crate::error::AppError;
use crate::sql::Script;
use serde::{Deserialize, Serialize};
use sqlx::Row;

/// The hash before the first event.
pub const GENESIS: &str = "0000000000000000000000000000000000000000000000000000000000000000";

/// One event as the chain holds it, and as `belay audit export` writes it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Link {
    /// Its place in the chain, from 1, without gaps.
    pub n: i64,
    /// The hash of event `n - 1` (`GENESIS` for the first).
    pub prev: String,
    pub id: String,
    pub at: i64,
    pub actor_kind: String,
    pub actor_id: Option<String>,
    pub what: String,
    pub subject_kind: String,
    pub subject_id: String,
    /// The before/after as stored (canonical JSON text).
    pub detail: String,
    /// SHA-256 of the canonical JSON of every field above.
    pub hash: String,
}

/// What the hash covers: every field but the hash itself. Its fields are
/// declared in sorted order and it holds only strings and integers, so
/// serde_json writes its canonical text (`canonical::flat_sha256`; a test
/// checks it against the canonicalizer).
#[derive(Serialize)]
struct Hashed<'a> {
    actor_id: Option<&'a str>,
    actor_kind: &'a str,
    at: i64,
    detail: &'a str,
    id: &'a str,
    n: i64,
    prev: &'a str,
    subject_id: &'a str,
    subject_kind: &'a str,
    what: &'a str,
}

impl Link {
    pub fn digest(&self) -> String {
        crate::canonical::flat_sha256(&self.hashed())
    }

    fn hashed(&self) -> Hashed<'_> {
        Hashed {
            actor_id: self.actor_id.as_deref(),
            actor_kind: &self.actor_kind,
            at: self.at,
            detail: &self.detail,
            id: &self.id,
            n: self.n,
            prev: &self.prev,
            subject_id: &self.subject_id,
            subject_kind: &self.subject_kind,
            what: &self.what,
        }
    }

    fn from_row(r: &sqlx::any::AnyRow) -> Result<Link, AppError> {
        Ok(Link {
            n: r.try_get("chain_no")?,
            prev: r.try_get("prev_hash")?,
            hash: r.try_get("hash")?,
            ..Link::unsealed(r)?
        })
    }

    /// An event's own fields, before it has a place in the chain.
    fn unsealed(r: &sqlx::any::AnyRow) -> Result<Link, AppError> {
        Ok(Link {
            n: 0,
            prev: String::new(),
            id: r.try_get("id")?,
            at: r.try_get("at")?,
            actor_kind: r.try_get("actor_kind")?,
            actor_id: r.try_get("actor_id")?,
            what: r.try_get("what")?,
            subject_kind: r.try_get("subject_kind")?,
            subject_id: r.try_get("subject_id")?,
            detail: r.try_get("detail")?,
            hash: String::new(),
        })
    }
}

/// Locks the chain's head until the transaction ends (the UPDATE takes the
/// row lock on PostgreSQL, the write lock on SQLite) and reads it, in one
/// statement.
pub async fn lock_head(tx: &mut Tx<'_>) -> Result<(i64, String), AppError> {
    let r = sqlx::query(
        "UPDATE audit_head SET chain_no = chain_no WHERE id = 1 RETURNING chain_no, hash",
    )
    .fetch_one(&mut **tx)
    .await?;
    Ok((r.try_get("chain_no")?, r.try_get("hash")?))
}

/// The chain's length and last hash: where the next link goes.
pub type Head = (i64, String);

/// Gives `links` their places after `head`, and their hashes.
pub fn seal(links: &mut [Link], (mut n, mut prev): Head) {
    for link in links {
        n += 1;
        link.n = n;
        link.prev = std::mem::take(&mut prev);
        link.hash = link.digest();
        prev = link.hash.clone();
    }
}

/// Appends links sealed on `expected` if the head is still there, in one
/// trip and without reading it first (the submission writer remembers the
/// head it left); answers false, having written nothing, if another
/// transaction moved it. The head's conditional update goes first and the
/// rows only if it applied, so the head stays the last lock taken.
pub async fn append_if_head(
    tx: &mut Tx<'_>,
    links: &[Link],
    (n, hash): &Head,
) -> Result<bool, AppError> {
    let Some(last) = links.last() else {
        return Ok(true);
    };
    let sqlite = crate::db::is_sqlite(tx);
    let mut next = 4;
    let mut inserts = Vec::new();
    for chunk in links.chunks(ROWS) {
        let rows: Vec<String> = chunk
            .iter()
            .map(|_| {
                let row: Vec<String> = (1..=11).map(|k| format!("${}", next + k)).collect();
                next += 11;
                format!("({})", row.join(", "))
            })
            .collect();
        // SQLite runs the statements in turn and sees the moved head; on
        // PostgreSQL every part of one statement sees the same snapshot,
        // so the rows go only where the head's update (`h`) returned one.
        let moved = if sqlite {
            "SELECT 1 FROM audit_head WHERE id = 1 AND chain_no = $1 AND hash = $2"
        } else {
            "SELECT 1 FROM h"
        };
        inserts.push(format!(
            "INSERT INTO audit_events ({COLUMNS}) SELECT * FROM (VALUES {}) AS v WHERE EXISTS ({moved})",
            rows.join(", ")
        ));
    }
    let update =
        "UPDATE audit_head SET chain_no = $1, hash = $2 WHERE id = 1 AND chain_no = $3 AND hash = $4";
    let sql = if sqlite {
        format!(
            "{update};\n{};\nSELECT COUNT(*) AS moved FROM audit_head \
             WHERE id = 1 AND chain_no = $1 AND hash = $2",
            inserts.join(";\n")
        )
    } else {
        let parts: Vec<String> = inserts
            .iter()
            .enumerate()
            .map(|(i, insert)| format!("i{i} AS ({insert})"))
            .collect();
        format!(
            "WITH h AS ({update} RETURNING chain_no), {} SELECT COUNT(*) AS moved FROM h",
            parts.join(", ")
        )
    };
    let mut script = Script::new();
    script
        .add(&sql)
        .bind(last.n)
        .bind(last.hash.clone())
        .bind(*n)
        .bind(hash.clone());
    for l in links {
        bind_link(&mut script, l);
    }
    // On SQLite several statements go as one query; the count is the last's.
    let moved: i64 = match script.run(tx).await?.last() {
        Some(row) => row.try_get("moved")?,
        None => return Err(AppError::Internal),
    };
    Ok(moved == 1)
}

/// A link's values, in `COLUMNS` order.
fn bind_link(script: &mut Script<'_>, l: &Link) {
    script
        .bind(l.n)
        .bind(l.prev.clone())
        .bind(l.id.clone())
        .bind(l.at)
        .bind(l.actor_kind.clone())
        .bind(l.actor_id.clone())
        .bind(l.what.clone())
        .bind(l.subject_kind.clone())
        .bind(l.subject_id.clone())
        .bind(l.detail.clone())
        .bind(l.hash.clone());
}

/// Rows an INSERT of links writes at once.
const ROWS: usize = 16;

const COLUMNS: &str =
    "chain_no, prev_hash, id, at, actor_kind, actor_id, what, subject_kind, subject_id, detail, hash";

/// Writes links made on a locked head, and moves the head to the last: one
/// trip to the database (`Script`).
pub async fn append(tx: &mut Tx<'_>, links: &[Link]) -> Result<(), AppError> {
    let mut script = Script::new();
    append_in(&mut script, links);
    script.run(tx).await?;
    Ok(())
}

/// `append` as parts of a caller's script, for a caller that holds the
/// head in the same trip (see `audit::append_in`).
pub fn append_in(script: &mut Script<'_>, links: &[Link]) {
    let Some(last) = links.last() else {
        return;
    };
    for chunk in links.chunks(ROWS) {
        script.add(&format!(
            "INSERT INTO audit_events ({COLUMNS}) VALUES {}",
            placeholders(chunk.len(), 11)
        ));
        for l in chunk {
            bind_link(script, l);
        }
    }
    script
        .add("UPDATE audit_head SET chain_no = $1, hash = $2 WHERE id = 1")
        .bind(last.n)
        .bind(last.hash.clone());
}

/// Seals events written before the chain existed into it, in the order
/// they were written: once, in one transaction, while the chain is still
/// empty. After that an event outside the chain was put there behind
/// Belay's back, and stays outside for `verify` to name.
pub async fn seal_unchained(db: &Db) -> Result<usize, AppError> {
    let mut tx = db.begin().await?;
    let (n, prev) = lock_head(&mut tx).await?;
    if n > 0 {
        return Ok(0);
    }
    let rows = sqlx::query(
        "SELECT id, at, actor_kind, actor_id, what, subject_kind, subject_id, detail \
         FROM audit_events WHERE chain_no IS NULL ORDER BY seq",
    )
    .fetch_all(&mut *tx)
    .await?;
    let mut links = rows
        .iter()
        .map(Link::unsealed)
        .collect::<Result<Vec<_>, _>>()?;
    seal(&mut links, (n, prev.clone()));
    for link in &links {
        sqlx::query(
            "UPDATE audit_events SET chain_no = $1, prev_hash = $2, hash = $3 WHERE id = $4",
        )
        .bind(link.n)
        .bind(&link.prev)
        .bind(&link.hash)
        .bind(&link.id)
        .execute(&mut *tx)
        .await?;
    }
    let (n, prev) = links.last().map_or((n, prev), |l| (l.n, l.hash.clone()));
    sqlx::query("UPDATE audit_head SET chain_no = $1, hash = $2 WHERE id = 1")
        .bind(n)
        .bind(&prev)
        .execute(&mut *tx)
        .await?;
    tx.commit().await?;
    Ok(rows.len())
}

/// The chain's length and last hash, as `belay audit head` prints them.
pub async fn head(db: &Db) -> Result<(i64, String), AppError> {
    let r = sqlx::query("SELECT chain_no, hash FROM audit_head WHERE id = 1")
        .fetch_one(db)
        .await?;
    Ok((r.try_get("chain_no")?, r.try_get("hash")?))
}

/// Events `from_n` to `upto_n`, in chain order, a page at a time.
pub async fn page(db: &Db, from_n: i64, upto_n: i64, limit: i64) -> Result<Vec<Link>, AppError> {
    sqlx::query(
        "SELECT chain_no, prev_hash, id, at, actor_kind, actor_id, what, subject_kind, subject_id, \
                detail, hash FROM audit_events WHERE chain_no >= $1 AND chain_no <= $2 \
         ORDER BY chain_no LIMIT $3",
    )
    .bind(from_n)
    .bind(upto_n)
    .bind(limit)
    .fetch_all(db)
    .await?
    .iter()
    .map(Link::from_row)
    .collect()
}

/// The first event at or after `at_ms`, if any: where an export starts.
pub async fn first_at_or_after(db: &Db, at_ms: i64) -> Result<Option<i64>, AppError> {
    Ok(sqlx::query(
        "SELECT MIN(chain_no) AS n FROM audit_events WHERE at >= $1 AND chain_no IS NOT NULL",
    )
    .bind(at_ms)
    .fetch_one(db)
    .await?
    .try_get("n")?)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    proptest! {
        /// Every link hashes as the canonicalizer would hash its record:
        /// chains written before `flat_sha256` still verify.
        #[test]
        fn a_links_digest_is_the_canonical_hash_of_its_record(
            n in 0..=crate::canonical::MAX_SAFE_INTEGER as i64,
            at in -(crate::canonical::MAX_SAFE_INTEGER as i64)..=crate::canonical::MAX_SAFE_INTEGER as i64,
            actor_id in proptest::option::of("[a-z0-9\u{0}-\u{1f}\"\\\\/\u{7f}é\u{fb33}\u{1f600}-]{0,12}"),
            text in prop::collection::vec("[ -~\u{0}-\u{1f}\u{7f}-\u{ff}\u{e000}\u{ffff}\u{10000}\u{1f600}]{0,40}", 7),
        ) {
            let link = Link {
                n,
                prev: text[0].clone(),
                id: text[1].clone(),
                at,
                actor_kind: text[2].clone(),
                actor_id,
                what: text[3].clone(),
                subject_kind: text[4].clone(),
                subject_id: text[5].clone(),
                detail: text[6].clone(),
                hash: String::new(),
            };
            prop_assert_eq!(link.digest(), crate::canonical::reference_sha256(&link.hashed()));
        }
    }
}
