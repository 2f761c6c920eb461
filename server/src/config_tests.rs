//! The flags' defaults and ranges, and what `Config` prints.
use super::*;

#[test]
fn debug_output_never_shows_the_database_password() {
    let c = Config {
        database_url: "postgres://belay:hunter2hunter2@db/belay".into(),
        serve: ServeArgs::default(),
    };
    let shown = format!("{c:?}");
    assert!(!shown.contains("hunter2"), "{shown}");
    assert!(shown.contains("belay:***@db"));
}

#[test]
fn the_defaults_run_out_of_the_box() {
    let cli = Cli::try_parse_from(["belay"]).unwrap();
    assert!(cli.command.is_none());
    let cli = Cli::try_parse_from(["belay", "serve"]).unwrap();
    match cli.command {
        Some(Command::Serve(s)) => assert_eq!(s.addr.to_string(), "127.0.0.1:3000"),
        _ => panic!("expected serve"),
    }
    assert!(Cli::try_parse_from(["belay", "serve", "--approval-ttl-secs", "0"]).is_err());
    assert!(Cli::try_parse_from(["belay", "serve", "--approval-ttl-secs", "99999999999"]).is_err());
    // Metrics on loopback, text logs; JSON on request.
    let Some(Command::Serve(s)) = Cli::try_parse_from(["belay", "serve"]).unwrap().command else {
        panic!("expected serve")
    };
    assert_eq!(s.metrics_addr.0, Some(([127, 0, 0, 1], 9464).into()));
    let json = Cli::try_parse_from(["belay", "migrate", "--log-format", "json"]).unwrap();
    assert_eq!(json.log_format, LogFormat::Json);
    assert!(Cli::try_parse_from(["belay", "--log-format", "yaml"]).is_err());
}

#[test]
fn a_quota_flag_out_of_its_range_is_refused_not_dropped() {
    use app::quota::limits::Kind;
    let serve = |flag: &str, v: u64| {
        Cli::try_parse_from(["belay", "serve", flag, &v.to_string()]).map(|c| match c.command {
            Some(Command::Serve(s)) => s.quotas(),
            _ => panic!("expected serve"),
        })
    };
    for (flag, kind, unit) in [
        ("--pending-per-agent", Kind::Pending, 1),
        ("--evidence-mib-per-day", Kind::EvidenceBytes, 1 << 20),
        ("--long-polls-per-agent", Kind::LongPolls, 1),
    ] {
        let (low, high) = kind.range();
        let (low, high) = (low.div_ceil(unit), high / unit);
        for v in [low, high] {
            let limits = serve(flag, v).unwrap_or_else(|e| panic!("{flag} {v}: {e}"));
            assert_eq!(limits.get(kind), v * unit, "{flag} {v}");
        }
        assert!(serve(flag, high + 1).is_err(), "{flag} above its range");
        if low > 0 {
            assert!(serve(flag, low - 1).is_err(), "{flag} below its range");
        }
    }
}
