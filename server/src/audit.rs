//! `belay audit verify | head | export`: the audit trail proves itself to
//! whoever runs the server, and exports prove themselves anywhere.

use crate::config::AuditCommand;
use crate::startup::StartupError;
use app::audit::{chain, verify};
use std::io::Write;

/// The database as it is: reading the trail never migrates, seals or
/// rewrites anything (a verifier needs no more than read access).
async fn open(url: &str) -> Result<app::db::Db, StartupError> {
    app::db::connect(url)
        .await
        .map_err(|e| format!("cannot open the database {}: {e}", app::db::redact_url(url)).into())
}

pub async fn run(url: &str, command: AuditCommand) -> Result<(), StartupError> {
    match command {
        AuditCommand::Verify {
            file: Some(path), ..
        } => {
            let text = std::fs::read_to_string(&path)
                .map_err(|e| format!("cannot read {}: {e}", path.display()))?;
            report(verify::lines(&text), &format!("{}", path.display()))
        }
        AuditCommand::Verify { head, file: None } => {
            let kept = head.as_deref().map(verify::parse_head).transpose()?;
            let db = open(url).await?;
            report(verify::database(&db, kept).await?, "the audit trail")
        }
        AuditCommand::Head => {
            let (n, hash) = chain::head(&open(url).await?).await?;
            println!("{n}:{hash}");
            Ok(())
        }
        AuditCommand::Export { since } => {
            let from = match since {
                Some(raw) => Some(parse_since(&raw)?),
                None => None,
            };
            let db = open(url).await?;
            export(&db, from).await
        }
    }
}

fn report(finding: verify::Finding, what: &str) -> Result<(), StartupError> {
    match finding {
        Ok(n) => {
            println!("{what} holds: {n} events, each linked to the one before.");
            Ok(())
        }
        Err(why) => Err(format!("{what} is broken: {why}").into()),
    }
}

/// `2026-11-30` (midnight UTC) or an RFC 3339 time, as milliseconds.
fn parse_since(raw: &str) -> Result<i64, StartupError> {
    use time::format_description::well_known::Rfc3339;
    let raw = raw.trim();
    let at = time::OffsetDateTime::parse(raw, &Rfc3339)
        .or_else(|_| time::OffsetDateTime::parse(&format!("{raw}T00:00:00Z"), &Rfc3339))
        .map_err(|_| {
            format!("--since takes a date (2026-11-30) or an RFC 3339 time, not {raw:?}")
        })?;
    Ok((at.unix_timestamp_nanos() / 1_000_000) as i64)
}

async fn export(db: &app::db::Db, since_ms: Option<i64>) -> Result<(), StartupError> {
    const PAGE: i64 = 10_000;
    let mut next = match since_ms {
        Some(ms) => chain::first_at_or_after(db, ms).await?,
        None => Some(1),
    };
    let (head_n, _) = chain::head(db).await?;
    let stdout = std::io::stdout();
    let mut out = std::io::BufWriter::new(stdout.lock());
    while let Some(from) = next {
        let links = chain::page(db, from, head_n, PAGE).await?;
        for link in &links {
            let line = serde_json::to_string(link).map_err(|e| e.to_string())?;
            writeln!(out, "{line}").map_err(|e| format!("cannot write the export: {e}"))?;
        }
        next = match links.last() {
            Some(last) if links.len() as i64 == PAGE => Some(last.n + 1),
            _ => None,
        };
    }
    out.flush()
        .map_err(|e| format!("cannot write the export: {e}"))?;
    Ok(())
}
