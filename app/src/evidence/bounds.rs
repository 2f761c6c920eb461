//! Caps on what one piece of evidence may become on a page. Agents send
//! what they like (any key may send it, even at `observe`), so every view
//! is built in time linear in its input and never larger than these caps,
//! and says what it left out (the raw link always has everything).

use serde_json::{Map, Value};

/// Table rows, log entries, timeline events.
pub const MAX_ROWS: usize = 200;
pub const MAX_COLUMNS: usize = 40;
/// One cell, URL or field.
pub const MAX_CELL_CHARS: usize = 500;
/// Everything one view shows, together.
pub const MAX_CHARS: usize = 200_000;
/// Nodes and depth of a JSON tree.
pub const MAX_NODES: usize = 2_000;
pub const MAX_DEPTH: usize = 24;
/// Lines of each side of a diff.
pub const MAX_LINES: usize = 2_000;

/// `s` cut to `max` characters, with an ellipsis if anything was cut.
pub fn clip(s: &str, max: usize) -> String {
    match s.char_indices().nth(max) {
        None => s.to_string(),
        Some((at, _)) => format!("{}…", &s[..at]),
    }
}

/// Characters left for a view; each piece drawn takes from it.
pub struct Budget(usize);

impl Default for Budget {
    fn default() -> Self {
        Budget(MAX_CHARS)
    }
}

impl Budget {
    /// `s` clipped to a cell and to what is left; `None` once spent.
    pub fn take(&mut self, s: &str, cell: usize) -> Option<String> {
        if self.0 == 0 {
            return None;
        }
        let out = clip(s, cell.min(self.0));
        self.0 = self.0.saturating_sub(out.chars().count());
        Some(out)
    }

    pub fn spent(&self) -> bool {
        self.0 == 0
    }
}

/// "Showing 200 of 50,000 rows." and the like, or nothing if all shown.
pub fn showing(shown: usize, total: usize, what: &str) -> Option<String> {
    (shown < total).then(|| format!("Showing {shown} of {total} {what}."))
}

/// A copy of `v` with at most `MAX_NODES` nodes, `MAX_DEPTH` levels and
/// clipped strings; what was left out is marked where it was.
pub fn prune(v: &Value) -> (Value, bool) {
    let mut nodes = 0;
    let mut cut = false;
    let out = prune_at(v, 0, &mut nodes, &mut cut);
    (out, cut)
}

fn prune_at(v: &Value, depth: usize, nodes: &mut usize, cut: &mut bool) -> Value {
    *nodes += 1;
    if depth >= MAX_DEPTH && (v.is_object() || v.is_array()) {
        *cut = true;
        return Value::String("… (deeper levels left out)".into());
    }
    match v {
        Value::Object(o) => {
            let mut out = Map::new();
            for (i, (k, child)) in o.iter().enumerate() {
                if *nodes >= MAX_NODES {
                    *cut = true;
                    out.insert(
                        "…".into(),
                        Value::String(format!("{} more left out", o.len() - i)),
                    );
                    break;
                }
                out.insert(
                    clip(k, MAX_CELL_CHARS),
                    prune_at(child, depth + 1, nodes, cut),
                );
            }
            Value::Object(out)
        }
        Value::Array(items) => {
            let mut out = Vec::new();
            for (i, child) in items.iter().enumerate() {
                if *nodes >= MAX_NODES {
                    *cut = true;
                    out.push(Value::String(format!(
                        "… {} more left out",
                        items.len() - i
                    )));
                    break;
                }
                out.push(prune_at(child, depth + 1, nodes, cut));
            }
            Value::Array(out)
        }
        Value::String(s) if s.chars().nth(MAX_CELL_CHARS).is_some() => {
            *cut = true;
            Value::String(clip(s, MAX_CELL_CHARS))
        }
        other => other.clone(),
    }
}
