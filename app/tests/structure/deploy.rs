//! The container build cannot run here (no Docker), so what can drift
//! between it and the build CI does run is checked instead: the Dockerfile
//! must run the very release command `make run` and `make binary` run, with
//! the tool versions `.ci/setup` installs, and its runtime stage must stay
//! unprivileged and hold the one binary.

use super::repo;
use std::fs;

fn read(path: &str) -> String {
    fs::read_to_string(repo().join(path)).unwrap_or_else(|e| panic!("{path}: {e}"))
}

/// `NAME=value` or `ARG NAME=value`, the first one in `text`.
fn assignment(text: &str, name: &str) -> Option<String> {
    text.lines().find_map(|line| {
        let line = line.trim().trim_start_matches("ARG ").trim();
        let value = line.strip_prefix(name)?.strip_prefix('=')?;
        Some(value.trim().trim_matches(['\'', '"']).to_string())
    })
}

#[test]
fn the_dockerfile_runs_the_release_build_ci_runs() {
    let makefile = read("Makefile");
    let release = makefile
        .lines()
        .find_map(|l| l.strip_prefix("RELEASE := "))
        .expect("the Makefile defines RELEASE");
    let dockerfile = read("Dockerfile");
    assert!(
        dockerfile
            .lines()
            .any(|l| l.trim().trim_end_matches('\\').trim() == release.trim()),
        "the Dockerfile must build with the Makefile's release command `{release}`"
    );
    assert!(
        dockerfile.contains("cp target/release/belay /out/belay"),
        "the Dockerfile must copy out the binary that command built"
    );
}

#[test]
fn the_dockerfile_pins_the_tools_ci_installs() {
    let (dockerfile, setup) = (read("Dockerfile"), read(".ci/setup"));
    for name in ["LEPTOS_VERSION", "BINARYEN_VERSION"] {
        let docker = assignment(&dockerfile, name);
        let ci = assignment(&setup, name);
        assert!(docker.is_some(), "the Dockerfile sets {name}");
        assert_eq!(
            docker, ci,
            "{name} differs between the Dockerfile and .ci/setup"
        );
    }
}

#[test]
fn the_runtime_image_is_unprivileged_and_holds_only_the_binary() {
    let dockerfile = read("Dockerfile");
    let runtime = dockerfile
        .rsplit_once("\nFROM ")
        .map(|(_, stage)| stage)
        .expect("a runtime stage");
    let user = runtime
        .lines()
        .find_map(|l| l.strip_prefix("USER "))
        .expect("the runtime stage names a USER");
    assert!(!matches!(user.trim(), "root" | "0"), "runs as {user}");
    let copies: Vec<&str> = runtime.lines().filter(|l| l.starts_with("COPY")).collect();
    assert_eq!(
        copies,
        ["COPY --from=builder /out/belay /usr/local/bin/belay"],
        "the runtime stage copies the binary and nothing else (it carries the site)"
    );
}
