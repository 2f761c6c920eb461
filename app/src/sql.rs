//! Several writes sent to the database as one, so a batch of submissions
//! costs a few trips to the database rather than one per statement: on
//! SQLite one multi-statement query (one hop to the connection's thread),
//! on PostgreSQL one statement whose parts are data-modifying CTEs (one
//! network round trip). Each part is written with its own `$1`, `$2`, …
//! and its values are bound right after it is added. The parts must not
//! depend on each other: on PostgreSQL none sees the rows another writes.
//! Numbering runs on across parts, and SQLite takes at most 32,766 values
//! in one query: a script is for one batch (the writer's are at most 256
//! submissions, about 11,000 values), not for bulk loads.

use crate::error::AppError;
use sqlx::any::{Any, AnyArguments, AnyRow};
use sqlx::{AnyConnection, Arguments};

#[derive(Default)]
pub struct Script<'q> {
    parts: Vec<String>,
    args: AnyArguments<'q>,
    /// Values bound so far.
    bound: usize,
    /// Values the parts added so far take.
    wanted: usize,
}

impl<'q> Script<'q> {
    pub fn new() -> Self {
        Script::default()
    }

    /// Adds a statement; its placeholders are numbered from `$1`, and its
    /// values are bound next, in that order.
    pub fn add(&mut self, sql: &str) -> &mut Self {
        debug_assert_eq!(
            self.bound, self.wanted,
            "the previous part is not fully bound"
        );
        let (sql, highest) = shift(sql, self.bound);
        self.wanted = self.bound + highest;
        self.parts.push(sql);
        self
    }

    pub fn bind<T>(&mut self, value: T) -> &mut Self
    where
        T: 'q + sqlx::Encode<'q, Any> + sqlx::Type<Any>,
    {
        // Adding to an in-memory list: only a value that cannot be encoded
        // fails, and every type bound here can be.
        if let Err(e) = self.args.add(value) {
            tracing::error!(error = %e, "a value could not be bound");
        }
        self.bound += 1;
        self
    }

    pub fn is_empty(&self) -> bool {
        self.parts.is_empty()
    }

    /// Runs every part; answers the rows the parts return (on PostgreSQL,
    /// only the last part's).
    pub async fn run(self, conn: &mut AnyConnection) -> Result<Vec<AnyRow>, AppError> {
        Ok(self.try_run(conn).await?)
    }

    /// `run`, with the database's own error (for a caller that tells one
    /// failure from another).
    pub async fn try_run(self, conn: &mut AnyConnection) -> Result<Vec<AnyRow>, sqlx::Error> {
        debug_assert_eq!(self.bound, self.wanted, "the last part is not fully bound");
        let sql = match self.parts.len() {
            0 => return Ok(Vec::new()),
            1 => self.parts.concat(),
            n if !crate::db::is_sqlite(conn) => {
                let ctes: Vec<String> = self.parts[..n - 1]
                    .iter()
                    .enumerate()
                    .map(|(i, part)| format!("w{i} AS ({part})"))
                    .collect();
                format!("WITH {} {}", ctes.join(", "), self.parts[n - 1])
            }
            _ => self.parts.join(";\n"),
        };
        // SQLite looks a named parameter (`$n`) up in a list, when the
        // statement is prepared and again for each value bound, so a
        // statement's cost grows with the square of its values (a batch's
        // request insert has hundreds). Anonymous `?` are found at once.
        let sql = if crate::db::is_sqlite(conn) {
            anonymous(&sql).unwrap_or(sql)
        } else {
            sql
        };
        sqlx::query_with(&sql, self.args)
            .fetch_all(&mut *conn)
            .await
    }
}

/// `sql` with every `$n` outside string literals made `$(n + by)`, and the
/// highest `n` it held.
fn shift(sql: &str, by: usize) -> (String, usize) {
    let mut highest = 0;
    let out = rewrite(sql, |n| {
        highest = highest.max(n);
        Some(format!("${}", n + by))
    });
    (out.unwrap_or_default(), highest)
}

/// `sql` with each `$n` outside string literals made `?`, if they are
/// `$1`, `$2`, … in the order they appear, each once, across all its
/// statements: then the values go to the same places (sqlx numbers the
/// `?` of a query's statements on from one statement to the next).
fn anonymous(sql: &str) -> Option<String> {
    let mut next = 1;
    rewrite(sql, |n| {
        (n == next).then(|| {
            next += 1;
            "?".to_string()
        })
    })
}

/// `sql` with each `$n` outside string literals replaced by what `each`
/// makes of `n`; `None` as soon as it makes nothing.
fn rewrite(sql: &str, mut each: impl FnMut(usize) -> Option<String>) -> Option<String> {
    let mut out = String::with_capacity(sql.len() + 16);
    let mut in_literal = false;
    let mut chars = sql.chars().peekable();
    while let Some(c) = chars.next() {
        if c == '\'' {
            in_literal = !in_literal;
        }
        if c != '$' || in_literal {
            out.push(c);
            continue;
        }
        let mut n = 0usize;
        let mut digits = false;
        while let Some(d) = chars.peek().and_then(|c| c.to_digit(10)) {
            n = n * 10 + d as usize;
            digits = true;
            chars.next();
        }
        if digits {
            out.push_str(&each(n)?);
        } else {
            out.push('$');
        }
    }
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn placeholders_move_past_earlier_parts_but_not_inside_literals() {
        let (sql, highest) = shift("UPDATE t SET a = $1, b = '$2' WHERE c = $12 AND d = $1", 5);
        assert_eq!(
            sql,
            "UPDATE t SET a = $6, b = '$2' WHERE c = $17 AND d = $6"
        );
        assert_eq!(highest, 12);
        assert_eq!(shift("SELECT 1", 3), ("SELECT 1".to_string(), 0));
    }

    #[test]
    fn placeholders_in_order_become_anonymous_and_any_other_order_stays() {
        assert_eq!(
            anonymous("INSERT INTO t VALUES ($1, '$9', $2);\nUPDATE u SET a = $3").as_deref(),
            Some("INSERT INTO t VALUES (?, '$9', ?);\nUPDATE u SET a = ?")
        );
        assert_eq!(anonymous("SELECT 1").as_deref(), Some("SELECT 1"));
        // Used twice, out of order, or with a gap: names are kept.
        assert_eq!(anonymous("SELECT $1 WHERE a = $1"), None);
        assert_eq!(anonymous("SELECT $2, $1"), None);
        assert_eq!(anonymous("SELECT $1, $3"), None);
    }
}
