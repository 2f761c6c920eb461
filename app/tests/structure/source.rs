//! Reading Rust source as text: the files, the code without comments and
//! strings, and the module paths it names.

use std::collections::BTreeSet;
use std::fs;
use std::path::{Path, PathBuf};

/// Every `.rs` file below `dir`.
pub fn sources(dir: &Path, out: &mut Vec<PathBuf>) {
    let Ok(entries) = fs::read_dir(dir) else {
        return;
    };
    let mut entries: Vec<_> = entries.flatten().map(|e| e.path()).collect();
    entries.sort();
    for path in entries {
        if path.is_dir() {
            sources(&path, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
}

pub fn code(text: &str) -> String {
    let text = match text.find("#[cfg(test)]\nmod ") {
        Some(at) => &text[..at],
        None => text,
    };
    let mut out = String::with_capacity(text.len());
    let mut chars = text.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '/' if chars.peek() == Some(&'/') => {
                for c in chars.by_ref() {
                    if c == '\n' {
                        out.push('\n');
                        break;
                    }
                }
            }
            '\'' => {
                // A char literal ('x', '\n', '"'); a lifetime stays.
                let next: Vec<char> = chars.clone().take(3).collect();
                if next.get(1) == Some(&'\'') {
                    chars.nth(1);
                } else if next.first() == Some(&'\\') {
                    for c in chars.by_ref().skip(1) {
                        if c == '\'' {
                            break;
                        }
                    }
                } else {
                    out.push(c);
                }
            }
            'r' if chars.peek() == Some(&'#') => {
                // A raw string: r#"…"#.
                let rest: String = chars.clone().take(2).collect();
                if rest == "#\"" {
                    chars.nth(1);
                    let mut prev = ' ';
                    for c in chars.by_ref() {
                        if prev == '"' && c == '#' {
                            break;
                        }
                        prev = c;
                    }
                    out.push_str("\"\"");
                } else {
                    out.push(c);
                }
            }
            '"' => {
                let mut escaped = false;
                for c in chars.by_ref() {
                    if !escaped && c == '"' {
                        break;
                    }
                    escaped = !escaped && c == '\\';
                }
                out.push_str("\"\"");
            }
            _ => out.push(c),
        }
    }
    out
}

fn ident_char(c: char) -> bool {
    c.is_alphanumeric() || c == '_'
}

/// The paths a piece of code names: `a::b::{c, d::e}` gives `a::b::c` and
/// `a::b::d::e`; only paths whose first segment `wanted` accepts.
pub fn paths(code: &str, wanted: &dyn Fn(&str) -> bool) -> Vec<Vec<String>> {
    let chars: Vec<char> = code.chars().collect();
    let mut found = Vec::new();
    let mut i = 0;
    while i < chars.len() {
        let starts =
            ident_char(chars[i]) && (i == 0 || !(ident_char(chars[i - 1]) || chars[i - 1] == ':'));
        if !starts {
            i += 1;
            continue;
        }
        let (tree, end) = use_tree(&chars, i);
        for path in tree {
            if path.len() > 1 && wanted(&path[0]) {
                found.push(path);
            }
        }
        i = end.max(i + 1);
    }
    found
}

/// Parses `ident(::ident)*(::{tree, …})?` from `at`; returns every full path.
fn use_tree(chars: &[char], mut at: usize) -> (Vec<Vec<String>>, usize) {
    let mut prefix = Vec::new();
    loop {
        while at < chars.len() && chars[at].is_whitespace() {
            at += 1;
        }
        let start = at;
        while at < chars.len() && ident_char(chars[at]) {
            at += 1;
        }
        if at == start {
            break;
        }
        prefix.push(chars[start..at].iter().collect::<String>());
        let mut look = at;
        while look < chars.len() && chars[look].is_whitespace() {
            look += 1;
        }
        if chars.get(look) == Some(&':') && chars.get(look + 1) == Some(&':') {
            at = look + 2;
            while at < chars.len() && chars[at].is_whitespace() {
                at += 1;
            }
            if chars.get(at) == Some(&'{') {
                let mut all = Vec::new();
                at += 1;
                loop {
                    while at < chars.len() && (chars[at].is_whitespace() || chars[at] == ',') {
                        at += 1;
                    }
                    if at >= chars.len() || chars[at] == '}' {
                        return (all, at + 1);
                    }
                    let (inner, end) = use_tree(chars, at);
                    if end <= at {
                        at += 1;
                        continue;
                    }
                    for p in inner {
                        all.push(prefix.iter().cloned().chain(p).collect());
                    }
                    at = end;
                    // `x as y`
                    while at < chars.len() && !matches!(chars[at], ',' | '}') {
                        at += 1;
                    }
                }
            }
            continue;
        }
        break;
    }
    (vec![prefix], at)
}

/// Child modules a file declares (`mod x;`).
pub fn children(code: &str) -> BTreeSet<String> {
    code.lines()
        .filter_map(|l| {
            let l = l.trim();
            let l = l.strip_prefix("pub ").unwrap_or(l);
            let l = l.strip_prefix("pub(crate) ").unwrap_or(l);
            let l = l.strip_prefix("pub(super) ").unwrap_or(l);
            let name = l.strip_prefix("mod ")?.strip_suffix(';')?;
            Some(name.trim().to_string())
        })
        .collect()
}
