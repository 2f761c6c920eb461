//! Where an upstream is reached: a command Belay starts and talks to over
//! stdio, or a Streamable HTTP URL, with the place its bearer token is read
//! from (never the token: it stays out of the database, its backups and
//! every listing, and is read when Belay connects).

use crate::error::AppError;
use axum::http::Uri;

/// Longest argv, serialized.
const MAX_COMMAND_BYTES: usize = 4096;
/// Longest URL.
const MAX_URL_BYTES: usize = 2048;

/// How Belay reaches an upstream.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Endpoint {
    /// Started by Belay: program first, then its arguments.
    Stdio(Vec<String>),
    /// A Streamable HTTP endpoint.
    Http {
        url: String,
        bearer: Option<BearerFrom>,
    },
}

/// Where the bearer token for an HTTP upstream is read, when Belay connects.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum BearerFrom {
    /// An environment variable of the Belay process.
    Env(String),
    /// A file (its contents, trimmed).
    File(String),
}

/// The argv, checked: a program and its arguments, no empty program.
pub fn parse_command(argv: &[String]) -> Result<Vec<String>, AppError> {
    match argv.first() {
        Some(p) if !p.trim().is_empty() => {}
        _ => return Err(AppError::validation("give the upstream's command after --")),
    }
    if argv.iter().any(|a| a.contains('\0')) {
        return Err(AppError::validation(
            "the command must not contain NUL bytes",
        ));
    }
    if serde_json::to_string(argv).map_or(0, |s| s.len()) > MAX_COMMAND_BYTES {
        return Err(AppError::validation(format!(
            "the command is longer than {MAX_COMMAND_BYTES} bytes"
        )));
    }
    Ok(argv.to_vec())
}

/// An `http://` or `https://` URL with a host and no credentials in it (a
/// token goes in `bearer`, where it is neither stored nor shown).
pub fn parse_url(raw: &str) -> Result<String, AppError> {
    let raw = raw.trim();
    let bad = |why: &str| AppError::validation(format!("the upstream URL {why}"));
    if raw.len() > MAX_URL_BYTES {
        return Err(bad(&format!("is longer than {MAX_URL_BYTES} bytes")));
    }
    let uri: Uri = raw.parse().map_err(|_| bad("is not a valid URL"))?;
    if !matches!(uri.scheme_str(), Some("http" | "https")) {
        return Err(bad("must start with http:// or https://"));
    }
    let Some(authority) = uri.authority() else {
        return Err(bad("has no host"));
    };
    if authority.as_str().contains('@') {
        return Err(bad(
            "must not hold credentials; give a token with --bearer-env or --bearer-file",
        ));
    }
    if authority.host().is_empty() {
        return Err(bad("has no host"));
    }
    Ok(raw.to_string())
}

impl BearerFrom {
    /// `env:<NAME>` or `file:<path>`, as stored.
    pub fn parse(stored: &str) -> Result<BearerFrom, AppError> {
        match stored.split_once(':') {
            Some(("env", name)) => BearerFrom::env(name),
            Some(("file", path)) => BearerFrom::file(path),
            _ => Err(AppError::validation(
                "a bearer token is read from env:<NAME> or file:<path>",
            )),
        }
    }

    /// An environment variable's name. Belay's own settings and database
    /// URL are not upstream tokens: sending them elsewhere is refused.
    pub fn env(name: &str) -> Result<BearerFrom, AppError> {
        let plain = !name.is_empty()
            && name.len() <= 100
            && name.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_');
        if !plain {
            return Err(AppError::validation(
                "a token's environment variable is named with A-Z, a-z, 0-9 and '_'",
            ));
        }
        if name.starts_with("BELAY_") || name == "DATABASE_URL" {
            return Err(AppError::validation(
                "Belay's own settings are not sent to an upstream",
            ));
        }
        Ok(BearerFrom::Env(name.to_string()))
    }

    /// A file's path; it must be absolute, since Belay reads it later from
    /// wherever it was started.
    pub fn file(path: &str) -> Result<BearerFrom, AppError> {
        if !path.starts_with('/') || path.contains('\0') || path.len() > 1024 {
            return Err(AppError::validation(
                "a token's file is given by its absolute path",
            ));
        }
        Ok(BearerFrom::File(path.to_string()))
    }

    pub fn stored(&self) -> String {
        match self {
            BearerFrom::Env(name) => format!("env:{name}"),
            BearerFrom::File(path) => format!("file:{path}"),
        }
    }

    /// The token, read now. Errors name where it was looked for, never
    /// what was found.
    pub fn read(&self) -> Result<String, String> {
        let token = match self {
            BearerFrom::Env(name) => std::env::var(name)
                .map_err(|_| format!("the environment variable {name} holds no token"))?,
            BearerFrom::File(path) => std::fs::read_to_string(path)
                .map_err(|e| format!("cannot read the token file {path}: {}", e.kind()))?,
        };
        let token = token.trim();
        // A header value: visible ASCII, no spaces inside.
        if token.is_empty() || !token.bytes().all(|b| b.is_ascii_graphic()) {
            return Err(format!(
                "the token from {} is empty or not a plain token",
                self.stored()
            ));
        }
        Ok(token.to_string())
    }
}

/// Environment variables a lead may name as a token's source start so.
pub const LEAD_TOKEN_ENV_PREFIX: &str = "MCP_TOKEN_";
/// Files a lead may name as a token's source lie directly in this folder.
pub const LEAD_TOKEN_DIR: &str = "/etc/belay/mcp-tokens/";

impl BearerFrom {
    /// Where a lead in the browser may have a token read: `kind` is
    /// `none`, `env` or `file`. A lead also chooses the URL the token is
    /// sent to, so a free choice would let them send any secret of the
    /// server (its environment, any file it can read) to a server of
    /// theirs: the operator puts upstream tokens where leads may name them,
    /// `MCP_TOKEN_*` variables or files in /etc/belay/mcp-tokens/. The CLI's
    /// rules apply too.
    pub fn for_lead(kind: &str, source: &str) -> Result<Option<BearerFrom>, AppError> {
        let source = source.trim();
        match kind {
            "none" | "" => Ok(None),
            "env" if source.starts_with(LEAD_TOKEN_ENV_PREFIX) => BearerFrom::env(source).map(Some),
            "env" => Err(AppError::validation(format!(
                "from this page, a token is read from an environment variable whose name starts with {LEAD_TOKEN_ENV_PREFIX} (the operator sets it; any other takes the CLI)"
            ))),
            "file" => {
                let name = source.strip_prefix(LEAD_TOKEN_DIR).unwrap_or_default();
                let plain = !name.is_empty()
                    && name != ".."
                    && name != "."
                    && !name.contains('/');
                if !plain {
                    return Err(AppError::validation(format!(
                        "from this page, a token is read from a file directly in {LEAD_TOKEN_DIR} (the operator puts it there; any other takes the CLI)"
                    )));
                }
                BearerFrom::file(source).map(Some)
            }
            _ => Err(AppError::validation(
                "a token is read from nowhere, an environment variable or a file",
            )),
        }
    }
}

impl std::fmt::Display for Endpoint {
    /// For listings: the command, or the URL and where its token comes from.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Endpoint::Stdio(argv) => write!(f, "{}", shell_words(argv)),
            Endpoint::Http { url, bearer: None } => write!(f, "{url}"),
            Endpoint::Http {
                url,
                bearer: Some(b),
            } => write!(f, "{url} (bearer token from {})", b.stored()),
        }
    }
}

/// The argv as one could type it again.
fn shell_words(argv: &[String]) -> String {
    argv.iter()
        .map(|a| {
            if !a.is_empty()
                && a.chars()
                    .all(|c| c.is_ascii_alphanumeric() || "-_./=:@,+".contains(c))
            {
                a.clone()
            } else {
                format!("'{}'", a.replace('\'', r"'\''"))
            }
        })
        .collect::<Vec<_>>()
        .join(" ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_are_http_with_a_host_and_no_credentials() {
        assert!(parse_url("https://tools.example.com/mcp").is_ok());
        assert!(parse_url("http://127.0.0.1:8000/mcp").is_ok());
        for bad in [
            "ftp://x/mcp",
            "tools.example.com/mcp",
            "https://user:pw@tools.example.com/mcp",
            "https:///mcp",
            "",
        ] {
            assert!(parse_url(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn tokens_come_from_plain_names_or_absolute_files() {
        assert_eq!(
            BearerFrom::parse("env:GITHUB_TOKEN").unwrap(),
            BearerFrom::Env("GITHUB_TOKEN".into())
        );
        assert_eq!(
            BearerFrom::parse("file:/etc/belay/t").unwrap().stored(),
            "file:/etc/belay/t"
        );
        for bad in [
            "env:",
            "env:A-B",
            "env:BELAY_SECRET",
            "env:DATABASE_URL",
            "file:relative",
            "token:x",
        ] {
            assert!(BearerFrom::parse(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn a_lead_names_only_token_sources_the_operator_set_aside() {
        assert_eq!(BearerFrom::for_lead("none", "").unwrap(), None);
        assert_eq!(
            BearerFrom::for_lead("env", "MCP_TOKEN_GITHUB").unwrap(),
            Some(BearerFrom::Env("MCP_TOKEN_GITHUB".into()))
        );
        assert_eq!(
            BearerFrom::for_lead("file", "/etc/belay/mcp-tokens/github").unwrap(),
            Some(BearerFrom::File("/etc/belay/mcp-tokens/github".into()))
        );
        for (kind, bad) in [
            ("env", "DATABASE_URL"),
            ("env", "AWS_SECRET_ACCESS_KEY"),
            ("env", "MCP_TOKEN_A-B"),
            ("file", "/etc/shadow"),
            ("file", "/etc/belay/mcp-tokens/../../shadow"),
            ("file", "/etc/belay/mcp-tokens/"),
            ("file", "/etc/belay/mcp-tokens/.."),
            ("file", "relative"),
            ("token", "x"),
        ] {
            assert!(BearerFrom::for_lead(kind, bad).is_err(), "{kind} {bad:?}");
        }
    }

    #[test]
    fn a_token_read_is_plain_and_never_echoed() {
        let dir = std::env::temp_dir().join(format!("belay-token-{}", std::process::id()));
        std::fs::write(&dir, "  s3cr3t-token\n").unwrap();
        let from = BearerFrom::file(dir.to_str().unwrap()).unwrap();
        assert_eq!(from.read().unwrap(), "s3cr3t-token");
        std::fs::write(&dir, "two words").unwrap();
        let err = from.read().unwrap_err();
        assert!(!err.contains("two words"), "{err}");
        std::fs::remove_file(&dir).unwrap();
    }
}
