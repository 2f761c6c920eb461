//! Typed configuration from flags and environment, with defaults that run
//! out of the box. The database URL may hold a password, so it is redacted.

use clap::builder::TypedValueParser as _;
use clap::{Args, Parser, Subcommand};
use std::fmt;
use std::net::SocketAddr;

#[derive(Parser)]
#[command(
    name = "belay",
    version,
    about = "Belay: layered trust for AI agents in production"
)]
pub struct Cli {
    /// Where Belay keeps its data: sqlite://PATH (default) or postgres://…
    #[arg(
        long,
        env = "DATABASE_URL",
        default_value = "sqlite://data/belay.db",
        global = true,
        hide_env_values = true
    )]
    pub database_url: String,

    /// Log lines as text, or as JSON (one object a line, with the request
    /// id and the other span fields).
    #[arg(
        long,
        env = "BELAY_LOG_FORMAT",
        value_enum,
        default_value = "text",
        global = true
    )]
    pub log_format: LogFormat,

    #[command(subcommand)]
    pub command: Option<Command>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum LogFormat {
    Text,
    Json,
}

// Parsed once at start and matched at once: boxing the large variant
// would buy nothing.
#[allow(clippy::large_enum_variant)]
#[derive(Subcommand)]
pub enum Command {
    /// Run the server (the default).
    Serve(ServeArgs),
    /// Apply database migrations and exit.
    Migrate,
    /// Manage people who sign in.
    #[command(subcommand)]
    User(UserCommand),
    /// Manage agents.
    #[command(subcommand)]
    Agent(AgentCommand),
    /// Fill a fresh database with a realistic demo scene: people, agents at
    /// every stage, a queue with every kind of evidence, and a history.
    Demo,
    /// The tamper-evident audit trail: verify, keep its head, export.
    #[command(subcommand)]
    Audit(AuditCommand),
    /// The MCP gateway: upstream MCP servers Belay fronts for an agent.
    #[command(subcommand)]
    Mcp(McpCommand),
    /// Copy the SQLite database to a new file while Belay serves it (a
    /// consistent copy); never overwrites. On PostgreSQL use pg_dump.
    Backup {
        /// The file to write; it must not exist.
        path: std::path::PathBuf,
    },
    /// Check a backup (integrity, migrations, audit chain) and install it
    /// as the database, keeping the previous one beside it. Stop the
    /// server first: a database in use is refused.
    Restore {
        /// The backup file, as `belay backup` wrote it.
        path: std::path::PathBuf,
    },
}

#[derive(Subcommand)]
pub enum McpCommand {
    /// Register an upstream MCP server (started over stdio, or reached at a
    /// Streamable HTTP URL) for an agent: its tools become catalog
    /// capabilities `mcp.<upstream>.<tool>`, with risk triggers from their
    /// annotations (unannotated: destructive).
    AddUpstream {
        /// The agent whose MCP client goes through Belay.
        #[arg(long)]
        agent: String,
        /// A short name: a-z, 0-9, '_' and '-'.
        #[arg(long)]
        name: String,
        /// The upstream's Streamable HTTP endpoint, instead of a command.
        #[arg(long, conflicts_with = "command")]
        url: Option<String>,
        /// The environment variable holding the bearer token for `--url`,
        /// read by Belay whenever it connects (the token is never stored).
        #[arg(long, requires = "url", conflicts_with = "bearer_file")]
        bearer_env: Option<String>,
        /// The file (absolute path) holding the bearer token for `--url`.
        #[arg(long, requires = "url")]
        bearer_file: Option<String>,
        /// How to start the upstream, after `--`: program and arguments.
        #[arg(last = true, required_unless_present = "url", num_args = 1..)]
        command: Vec<String>,
    },
    /// List an agent's upstreams and their tools.
    List {
        #[arg(long)]
        agent: String,
    },
    /// Serve the gateway over stdio, for a local MCP client that starts
    /// Belay itself: the same rules, on the same database, as `/mcp`.
    Stdio {
        /// The agent's API key.
        #[arg(long, env = "BELAY_AGENT_KEY", hide_env_values = true)]
        agent_key: String,
        /// Seconds a call that needs approval is held for the decision.
        #[arg(long, env = "BELAY_MCP_WAIT_SECS", default_value = "50")]
        mcp_wait_secs: u64,
    },
}

#[derive(Subcommand)]
pub enum AuditCommand {
    /// Walk the chain and name the first event that was changed, removed,
    /// inserted or reordered; exits 1 if there is one.
    Verify {
        /// A head kept elsewhere (`N:HASH` from `belay audit head`): also
        /// catches a cut tail or a chain rewritten before it.
        #[arg(long)]
        head: Option<String>,
        /// Verify an export (JSON Lines) instead of the database.
        #[arg(long)]
        file: Option<std::path::PathBuf>,
    },
    /// Print the chain's length and last hash (`N:HASH`), to keep elsewhere.
    Head,
    /// Write events as JSON Lines that verify on their own.
    Export {
        /// Only events at or after this time: `2026-11-30` or RFC 3339.
        #[arg(long)]
        since: Option<String>,
    },
}

#[derive(Subcommand)]
pub enum UserCommand {
    /// Create a user. Without --password-stdin a strong password is generated and printed once.
    Create {
        #[arg(long)]
        username: String,
        /// admin, lead, reviewer or auditor
        #[arg(long)]
        role: String,
        /// Read the password from standard input.
        #[arg(long)]
        password_stdin: bool,
    },
    /// Deactivate a person: their sessions end at once.
    Deactivate {
        #[arg(long)]
        username: String,
    },
    /// Let a deactivated person sign in again.
    Reactivate {
        #[arg(long)]
        username: String,
    },
    /// Change a person's role (admin, lead, reviewer or auditor).
    SetRole {
        #[arg(long)]
        username: String,
        #[arg(long)]
        role: String,
    },
    /// Give a person a new generated password, printed once.
    ResetPassword {
        #[arg(long)]
        username: String,
    },
}

#[derive(Subcommand)]
pub enum AgentCommand {
    /// Register an agent and print its id and a new API key (shown once).
    Create {
        #[arg(long)]
        name: String,
        /// Username of the accountable human sponsor.
        #[arg(long)]
        sponsor: String,
        /// observe, draft, propose, act_with_approval or scoped_autonomy
        #[arg(long, default_value = "observe")]
        stage: String,
        /// The bounded task the agent exists for.
        #[arg(long, default_value = "Registered from the command line")]
        purpose: String,
    },
    /// Show or set one agent's own quotas; a value of "default" goes back
    /// to the server's, an option left out stays as it is.
    Quota {
        #[arg(long)]
        name: String,
        #[arg(long)]
        submissions_per_minute: Option<String>,
        #[arg(long)]
        pending: Option<String>,
        /// In MiB.
        #[arg(long)]
        evidence_mib_per_day: Option<String>,
        #[arg(long)]
        long_polls: Option<String>,
    },
}

#[derive(Args, Clone)]
pub struct ServeArgs {
    /// Address to listen on.
    #[arg(long, env = "BELAY_ADDR", default_value = "127.0.0.1:3000")]
    pub addr: SocketAddr,
    /// Folder with the compiled site (wasm, js, css), as cargo-leptos writes it.
    #[arg(long, env = "LEPTOS_SITE_ROOT", default_value = "target/site")]
    pub site_root: String,
    /// Belay is served over HTTPS: the session cookie is Secure and every
    /// response carries HSTS.
    #[arg(long, env = "BELAY_SECURE_COOKIES")]
    pub secure_cookies: bool,
    /// Actions one agent may submit a minute (bursts up to as many at
    /// once), unless it has its own quota (its page, `belay agent quota`).
    #[arg(long, env = "BELAY_SUBMISSIONS_PER_MINUTE", default_value = "600")]
    pub submissions_per_minute: std::num::NonZeroU32,
    /// Requests one agent may have waiting for approval at once.
    #[arg(long, env = "BELAY_PENDING_PER_AGENT", default_value = "1000",
          value_parser = clap::value_parser!(u32).range(0..=1_000_000))]
    pub pending_per_agent: u32,
    /// Evidence one agent may store a day (UTC), in MiB.
    #[arg(long, env = "BELAY_EVIDENCE_MIB_PER_DAY", default_value = "1024",
          value_parser = clap::value_parser!(u32).range(0..=1_048_576))]
    pub evidence_mib_per_day: u32,
    /// Long-polls (`?wait=`) one agent may hold open at once.
    #[arg(long, env = "BELAY_LONG_POLLS_PER_AGENT", default_value = "16",
          value_parser = clap::value_parser!(u32).range(1..=10_000).map(non_zero))]
    pub long_polls_per_agent: std::num::NonZeroU32,
    /// Host names Belay is reached by, comma-separated (a port is optional).
    /// Default: on loopback, localhost, 127.0.0.1 and [::1]; elsewhere any.
    #[arg(long, env = "BELAY_ALLOWED_HOSTS", value_delimiter = ',')]
    pub allowed_hosts: Vec<String>,
    /// Reverse proxies (addresses or networks, comma-separated) whose
    /// `X-Forwarded-For` names the client for the sign-in back-off. Default:
    /// none, so every client is counted by the address it connects from.
    #[arg(long, env = "BELAY_TRUSTED_PROXIES", value_delimiter = ',')]
    pub trusted_proxies: Vec<String>,
    /// Seconds an MCP tool call that needs approval is held open for the
    /// decision (at most the longest long-poll, 60); after that the agent
    /// is told it awaits approval and may call again to keep waiting.
    #[arg(long, env = "BELAY_MCP_WAIT_SECS", default_value = "50")]
    pub mcp_wait_secs: u64,
    /// Where Prometheus scrapes `/metrics`, or `off`. Off loopback it needs
    /// --metrics-token. Default (`Default`, for embedding): off.
    #[arg(long, env = "BELAY_METRICS_ADDR", default_value = "127.0.0.1:9464")]
    pub metrics_addr: crate::ops::MetricsAddr,
    /// A bearer token `/metrics` asks of Prometheus.
    #[arg(long, env = "BELAY_METRICS_TOKEN", hide_env_values = true)]
    pub metrics_token: Option<String>,
    /// How webhook deliveries are sent and retried.
    #[command(flatten)]
    pub webhooks: crate::webhooks::WebhookArgs,
    #[command(flatten)]
    pub slack: crate::slack::SlackArgs,
}

impl Default for ServeArgs {
    fn default() -> Self {
        ServeArgs {
            addr: SocketAddr::from(([127, 0, 0, 1], 3000)),
            site_root: "target/site".into(),
            secure_cookies: false,
            submissions_per_minute: std::num::NonZeroU32::new(600).expect("not zero"),
            pending_per_agent: 1000,
            evidence_mib_per_day: 1024,
            long_polls_per_agent: std::num::NonZeroU32::new(16).expect("not zero"),
            allowed_hosts: Vec::new(),
            trusted_proxies: Vec::new(),
            mcp_wait_secs: 50,
            metrics_addr: crate::ops::MetricsAddr(None),
            metrics_token: None,
            webhooks: Default::default(),
            slack: Default::default(),
        }
    }
}

impl ServeArgs {
    /// Every agent's quotas, unless it has its own.
    pub fn quotas(&self) -> app::quota::limits::Limits {
        use app::quota::limits::{Kind, Limits};
        // Each flag's parser keeps it within its quota's range
        // (`Kind::range`; a test holds the two together), so none is dropped here.
        let set = |l: Limits, k, v: u64| l.with(k, v).unwrap_or(l);
        let l = Limits::default();
        let l = set(
            l,
            Kind::Submissions,
            self.submissions_per_minute.get().into(),
        );
        let l = set(l, Kind::Pending, self.pending_per_agent.into());
        let l = set(
            l,
            Kind::EvidenceBytes,
            u64::from(self.evidence_mib_per_day) << 20,
        );
        set(l, Kind::LongPolls, self.long_polls_per_agent.get().into())
    }
}

/// For a parser whose range starts at 1.
fn non_zero(v: u32) -> std::num::NonZeroU32 {
    std::num::NonZeroU32::new(v).unwrap_or(std::num::NonZeroU32::MIN)
}

/// Everything `Application::build` needs.
#[derive(Clone)]
pub struct Config {
    pub database_url: String,
    pub serve: ServeArgs,
}

impl fmt::Debug for Config {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Config")
            .field("database_url", &app::db::redact_url(&self.database_url))
            .field("addr", &self.serve.addr)
            .field("site_root", &self.serve.site_root)
            .field("secure_cookies", &self.serve.secure_cookies)
            .field("quotas", &self.serve.quotas())
            .field("allowed_hosts", &self.serve.allowed_hosts)
            .field("trusted_proxies", &self.serve.trusted_proxies)
            .field("metrics_addr", &self.serve.metrics_addr.0)
            .field(
                "metrics_token",
                &self.serve.metrics_token.as_ref().map(|_| "***"),
            )
            .field("slack", &self.serve.slack)
            .finish()
    }
}

#[cfg(test)]
#[path = "config_tests.rs"]
mod tests;
