use belay::cli;
use belay::config::{Cli, Command, Config, LogFormat, McpCommand};
use belay::startup::{open_database, Application, StartupError};
use clap::Parser;
use tracing_subscriber::EnvFilter;

// Small allocations per request are many; see Cargo.toml.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[tokio::main]
async fn main() {
    let mut args = Cli::parse();
    if args.command.is_none() {
        // `belay` alone means `belay serve`, with serve's flags and environment.
        args = Cli::parse_from(std::env::args().chain(["serve".to_string()]));
    }
    let logs = tracing_subscriber::fmt()
        .with_env_filter(
            EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| EnvFilter::new("info,sqlx=warn,tower_sessions=warn,rmcp=warn")),
        )
        .with_writer(std::io::stderr)
        // Colours for a terminal; a file or a log collector gets plain text.
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()));
    match args.log_format {
        LogFormat::Text => logs.init(),
        // Each line carries its spans' fields: the request id among them.
        LogFormat::Json => logs.json().flatten_event(true).init(),
    }
    if let Err(e) = run(args).await {
        eprintln!("error: {e}");
        std::process::exit(1);
    }
}

async fn run(args: Cli) -> Result<(), StartupError> {
    let url = args.database_url;
    let Some(command) = args.command else {
        return Err("no command given".into());
    };
    match command {
        Command::Serve(serve) => {
            serve_until_signal(Config {
                database_url: url,
                serve,
            })
            .await
        }
        Command::Migrate => {
            open_database(&url).await?;
            println!("Database is up to date.");
            Ok(())
        }
        Command::User(cmd) => cli::user(&open_database(&url).await?, cmd).await,
        Command::Agent(cmd) => cli::agent(&open_database(&url).await?, cmd).await,
        Command::Demo => belay::demo::run(open_database(&url).await?).await,
        Command::Audit(cmd) => belay::audit::run(&url, cmd).await,
        Command::Mcp(McpCommand::Stdio {
            agent_key,
            mcp_wait_secs,
        }) => belay::mcp::serve_stdio(open_database(&url).await?, agent_key, mcp_wait_secs).await,
        Command::Mcp(cmd) => cli::mcp(&open_database(&url).await?, cmd).await,
        Command::Backup { path } => belay::backup::backup(&url, &path).await,
        Command::Restore { path } => belay::backup::restore(&url, &path).await,
    }
}

async fn serve_until_signal(config: Config) -> Result<(), StartupError> {
    tracing::info!(?config, "starting");
    let app = Application::build(config.clone()).await?;
    if app::auth::users::count(&app.state().db).await? == 0 {
        // A password in the URL is not printed; whoever set it knows it.
        let db_flag = if config.database_url == "sqlite://data/belay.db" {
            String::new()
        } else {
            format!(
                " --database-url '{}'",
                app::db::redact_url(&config.database_url)
            )
        };
        println!(
            "\nBelay has no users yet. Create the first admin with:\n\n    {}{db_flag} user create --username admin --role admin\n",
            this_command()
        );
    }
    let addr = format!("http://{}:{}", config.serve.addr.ip(), app.port());
    println!("Belay is listening on {addr}");
    app.run_until_stopped(shutdown_signal()).await?;
    tracing::info!("stopped");
    Ok(())
}

/// How to run this same binary from the current folder, e.g. `./target/release/belay`.
fn this_command() -> String {
    let exe = std::env::current_exe().ok();
    let cwd = std::env::current_dir().ok();
    match (exe, cwd) {
        (Some(exe), Some(cwd)) => match exe.strip_prefix(&cwd) {
            Ok(rel) => format!("./{}", rel.display()),
            Err(_) => exe.display().to_string(),
        },
        _ => "belay".to_string(),
    }
}

async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();
    tokio::select! {
        _ = ctrl_c => {},
        _ = terminate => {},
    }
    tracing::info!("shutting down: finishing requests in flight");
}
