//! The shape of the code, checked like behaviour: the module graph drawn
//! from paths in the source (`use` lines and inline `crate::…`, `super::…`
//! and child-module paths) has no cycles, and no source file grows past
//! 400 lines. Needs nothing but std, so it also runs on its own:
//! `rustc --edition 2021 --test app/tests/structure/main.rs -o /tmp/structure && /tmp/structure`
//! from the repository root.

mod deploy;
mod graph;
mod source;

use graph::{cycles, graph, name, Crate};
use source::{paths, sources};
use std::collections::{BTreeMap, BTreeSet};
use std::fs;
use std::path::{Path, PathBuf};

const MAX_LINES: usize = 400;

fn repo() -> PathBuf {
    match option_env!("CARGO_MANIFEST_DIR") {
        Some(app) => Path::new(app).join(".."),
        None => PathBuf::from("."),
    }
}

const CRATES: [&str; 3] = ["app/src", "server/src", "frontend/src"];

#[test]
fn no_module_cycles() {
    let mut report = String::new();
    for root in CRATES {
        let krate = Crate::read(&repo().join(root));
        let edges = graph(&krate);
        for component in cycles(&edges) {
            report.push_str(&format!("cycle in {}:\n", krate.root.display()));
            for m in &component {
                for to in &edges[m] {
                    if component.contains(to) {
                        report.push_str(&format!("  {} -> {}\n", name(m), name(to)));
                    }
                }
            }
        }
    }
    assert!(report.is_empty(), "{report}");
}

#[test]
fn no_source_file_over_the_limit() {
    let mut files = Vec::new();
    for dir in [
        "app/src",
        "app/tests",
        "app/benches",
        "server/src",
        "server/tests",
        "server/benches",
        "frontend/src",
    ] {
        sources(&repo().join(dir), &mut files);
    }
    assert!(files.len() > 50, "the sources were not found");
    let long: Vec<String> = files
        .iter()
        .filter_map(|f| {
            let n = fs::read_to_string(f).unwrap().lines().count();
            (n > MAX_LINES).then(|| format!("{} has {n} lines", f.display()))
        })
        .collect();
    assert!(
        long.is_empty(),
        "over {MAX_LINES} lines:\n{}",
        long.join("\n")
    );
}

#[test]
fn the_checker_sees_a_cycle() {
    // a::x names b, b names a::x: one cycle; c names a but nothing names c.
    let edges: BTreeMap<Vec<String>, BTreeSet<Vec<String>>> = [
        (vec!["a", "x"], vec![vec!["b"]]),
        (vec!["b"], vec![vec!["a", "x"]]),
        (vec!["c"], vec![vec!["a", "x"]]),
    ]
    .into_iter()
    .map(|(k, v)| {
        let k = k.into_iter().map(String::from).collect();
        let v = v
            .into_iter()
            .map(|p| p.into_iter().map(String::from).collect())
            .collect();
        (k, v)
    })
    .collect();
    assert_eq!(cycles(&edges).len(), 1);
    let found = paths(
        "use crate::a::{b::C, d}; fn f() { super::e::g(); x::y() }",
        &|f| f != "fn",
    );
    let found: Vec<String> = found.iter().map(|p| p.join("::")).collect();
    assert!(found.contains(&"crate::a::b::C".to_string()), "{found:?}");
    assert!(found.contains(&"crate::a::d".to_string()), "{found:?}");
    assert!(found.contains(&"super::e::g".to_string()), "{found:?}");
    assert!(found.contains(&"x::y".to_string()), "{found:?}");
}
