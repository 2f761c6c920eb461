//! Reading structured evidence into shapes the viewer draws. Agents send
//! what they have, so each reader is lenient about field names and says
//! `None` when the JSON is not the shape it expects (the viewer then shows
//! the JSON as a tree). Every reader stays within `bounds` and says what
//! it left out.

use super::bounds::{clip, showing, Budget, MAX_CELL_CHARS, MAX_COLUMNS, MAX_LINES, MAX_ROWS};
use serde_json::Value;
use std::collections::HashSet;

/// What a reader drew, and what it left out (in words), if anything.
#[derive(Debug, Clone, PartialEq)]
pub struct Shown<T> {
    pub items: Vec<T>,
    pub cut: Option<String>,
}

/// One HTTP request from a `request_log`.
#[derive(Debug, Clone, PartialEq)]
pub struct LoggedRequest {
    pub method: String,
    pub url: String,
    pub status: String,
    pub timing: String,
    pub request_body: Option<String>,
    pub response_body: Option<String>,
}

/// Request bodies are shown folded; each is clipped to this.
const MAX_BODY_CHARS: usize = 20_000;

pub fn request_log(v: &Value) -> Option<Shown<LoggedRequest>> {
    let items = v.as_array()?;
    let mut budget = Budget::default();
    let mut out = Vec::new();
    for item in items.iter().take(MAX_ROWS) {
        let o = item.as_object()?;
        let timing = ["duration_ms", "timing_ms", "ms", "elapsed_ms"]
            .iter()
            .find_map(|k| text(o.get(*k)).map(|t| format!("{t} ms")))
            .or_else(|| text(o.get("timing").or(o.get("duration"))));
        let row = LoggedRequest {
            method: take(&mut budget, text(o.get("method")), 20).unwrap_or_default(),
            url: take(
                &mut budget,
                text(o.get("url").or(o.get("uri"))),
                MAX_CELL_CHARS,
            )
            .unwrap_or_default(),
            status: take(
                &mut budget,
                text(o.get("status").or(o.get("status_code"))),
                20,
            )
            .unwrap_or_default(),
            timing: take(&mut budget, timing, 40).unwrap_or_default(),
            request_body: take(
                &mut budget,
                body(o.get("request_body").or(o.get("request"))),
                MAX_BODY_CHARS,
            ),
            response_body: take(
                &mut budget,
                body(o.get("response_body").or(o.get("response"))),
                MAX_BODY_CHARS,
            ),
        };
        out.push(row);
        if budget.spent() {
            break;
        }
    }
    let cut = showing(out.len(), items.len(), "requests");
    Some(Shown { items: out, cut })
}

/// One entry of an `events` timeline.
#[derive(Debug, Clone, PartialEq)]
pub struct TimelineEvent {
    pub at: String,
    pub kind: String,
    /// Where the page went, for page transitions.
    pub url: Option<String>,
    /// Every other field, as `key: value`.
    pub detail: String,
}

impl TimelineEvent {
    pub fn is_transition(&self) -> bool {
        self.url.is_some()
            || matches!(
                self.kind.as_str(),
                "navigation" | "navigate" | "page" | "page_load" | "transition"
            )
    }
}

pub fn timeline(v: &Value) -> Option<Shown<TimelineEvent>> {
    let items = v.as_array()?;
    let mut budget = Budget::default();
    let mut out = Vec::new();
    for item in items.iter().take(MAX_ROWS) {
        let o = item.as_object()?;
        let at_key = ["at", "time", "timestamp", "ts"]
            .into_iter()
            .find(|k| o.contains_key(*k));
        let kind_key = ["type", "kind", "event", "name"]
            .into_iter()
            .find(|k| o.contains_key(*k));
        let detail = o
            .iter()
            .filter(|(k, _)| {
                Some(k.as_str()) != at_key && Some(k.as_str()) != kind_key && *k != "url"
            })
            .take(MAX_COLUMNS)
            .map(|(k, v)| {
                format!(
                    "{}: {}",
                    clip(k, 100),
                    clip(&text(Some(v)).unwrap_or_default(), 200)
                )
            })
            .collect::<Vec<_>>()
            .join(" · ");
        out.push(TimelineEvent {
            at: take(&mut budget, at_key.and_then(|k| text(o.get(k))), 60).unwrap_or_default(),
            kind: take(&mut budget, kind_key.and_then(|k| text(o.get(k))), 100)
                .unwrap_or_else(|| "event".into()),
            url: take(&mut budget, text(o.get("url")), MAX_CELL_CHARS),
            detail: take(&mut budget, Some(detail), MAX_CELL_CHARS * 4).unwrap_or_default(),
        });
        if budget.spent() {
            break;
        }
    }
    let cut = showing(out.len(), items.len(), "events");
    Some(Shown { items: out, cut })
}

/// A table: its columns in first-seen order, rows of cells, and what was
/// left out.
#[derive(Debug, Clone, PartialEq)]
pub struct Table {
    pub columns: Vec<String>,
    pub rows: Vec<Vec<String>>,
    pub cut: Option<String>,
}

/// A flat object, or an array of flat objects, as a table: one pass over
/// the keys (a set, so a million distinct keys cost a million steps, not a
/// million squared), at most `MAX_COLUMNS` columns and `MAX_ROWS` rows.
pub fn table(v: &Value) -> Option<Table> {
    let rows: Vec<&serde_json::Map<String, Value>> = match v {
        Value::Object(o) => vec![o],
        Value::Array(items) if !items.is_empty() => items
            .iter()
            .map(Value::as_object)
            .collect::<Option<Vec<_>>>()?,
        _ => return None,
    };
    let flat = rows
        .iter()
        .all(|o| o.values().all(|v| !v.is_object() && !v.is_array()));
    if !flat {
        return None;
    }
    // The first MAX_COLUMNS distinct keys, and how many there are in all.
    let mut seen: HashSet<&str> = HashSet::new();
    let mut keys: Vec<&str> = Vec::new();
    for o in &rows {
        for k in o.keys() {
            if seen.insert(k) && keys.len() < MAX_COLUMNS {
                keys.push(k);
            }
        }
    }
    let columns: Vec<String> = keys.iter().map(|k| clip(k, 100)).collect();
    let mut budget = Budget::default();
    let mut cells = Vec::new();
    for o in rows.iter().take(MAX_ROWS) {
        let row: Vec<String> = keys
            .iter()
            .map(|c| {
                budget
                    .take(&text(o.get(*c)).unwrap_or_default(), MAX_CELL_CHARS)
                    .unwrap_or_default()
            })
            .collect();
        cells.push(row);
        if budget.spent() {
            break;
        }
    }
    let cut = [
        showing(cells.len(), rows.len(), "rows"),
        showing(columns.len(), seen.len(), "columns"),
    ]
    .into_iter()
    .flatten()
    .collect::<Vec<_>>();
    Some(Table {
        columns,
        rows: cells,
        cut: (!cut.is_empty()).then(|| cut.join(" ")),
    })
}

/// A proposed change as two columns, before and after.
#[derive(Debug, Clone, PartialEq)]
pub struct SideBySide {
    pub before: String,
    pub after: String,
}

/// `{"before": …, "after": …}` JSON, or a unified diff (lines starting with
/// `-` go left, `+` right, the rest both; headers dropped).
pub fn side_by_side(raw: &str) -> Option<SideBySide> {
    let half = super::bounds::MAX_CHARS / 2;
    if let Ok(Value::Object(o)) = serde_json::from_str::<Value>(raw) {
        let (b, a) = (o.get("before")?, o.get("after")?);
        return Some(SideBySide {
            before: clip(&pretty(b), half),
            after: clip(&pretty(a), half),
        });
    }
    let lines: Vec<&str> = raw.lines().collect();
    if !lines
        .iter()
        .any(|l| l.starts_with('+') || l.starts_with('-'))
    {
        return None;
    }
    let (mut before, mut after) = (Vec::new(), Vec::new());
    for line in lines {
        if before.len() >= MAX_LINES || after.len() >= MAX_LINES {
            before.push("… (more lines left out; the raw link has them)");
            after.push("… (more lines left out; the raw link has them)");
            break;
        }
        if line.starts_with("+++") || line.starts_with("---") || line.starts_with("@@") {
            continue;
        }
        match line.chars().next() {
            Some('-') => before.push(&line[1..]),
            Some('+') => after.push(&line[1..]),
            _ => {
                let same = line.strip_prefix(' ').unwrap_or(line);
                before.push(same);
                after.push(same);
            }
        }
    }
    Some(SideBySide {
        before: clip(&before.join("\n"), half),
        after: clip(&after.join("\n"), half),
    })
}

fn pretty(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        other => serde_json::to_string_pretty(other).unwrap_or_default(),
    }
}

/// A present value, clipped and charged to the budget.
fn take(budget: &mut Budget, v: Option<String>, max: usize) -> Option<String> {
    v.and_then(|t| budget.take(&t, max))
}

fn text(v: Option<&Value>) -> Option<String> {
    match v? {
        Value::Null => None,
        Value::String(s) => Some(s.clone()),
        other => Some(other.to_string()),
    }
}

fn body(v: Option<&Value>) -> Option<String> {
    v.filter(|v| !v.is_null()).map(pretty)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn request_logs_read_common_field_names() {
        let rows = request_log(&json!([
            {"method": "GET", "url": "https://x/a", "status": 200, "duration_ms": 84, "response_body": {"ok": true}},
            {"method": "POST", "uri": "https://x/b", "status_code": 500, "timing": "1.2s"},
        ]))
        .unwrap()
        .items;
        assert_eq!(rows[0].timing, "84 ms");
        assert_eq!(
            rows[0].response_body.as_deref(),
            Some("{\n  \"ok\": true\n}")
        );
        assert_eq!(
            (
                rows[1].url.as_str(),
                rows[1].status.as_str(),
                rows[1].timing.as_str()
            ),
            ("https://x/b", "500", "1.2s")
        );
        assert_eq!(request_log(&json!({"not": "a list"})), None);
        assert_eq!(request_log(&json!([1, 2])), None);
    }

    #[test]
    fn timelines_mark_page_transitions() {
        let events = timeline(&json!([
            {"at": "09:12:03", "type": "navigation", "url": "https://billing/x"},
            {"time": "09:12:05", "kind": "extract", "detail": "overdue", "n": 2},
        ]))
        .unwrap()
        .items;
        assert!(events[0].is_transition());
        assert!(!events[1].is_transition());
        assert_eq!(events[1].detail, "detail: overdue · n: 2");
    }

    #[test]
    fn flat_json_becomes_a_table_and_nested_json_does_not() {
        let t = table(&json!([{"a": 1, "b": "x"}, {"b": "y", "c": null}])).unwrap();
        assert_eq!(t.columns, vec!["a", "b", "c"]);
        assert_eq!(t.rows[1], vec!["", "y", ""]);
        assert_eq!(t.cut, None);
        assert!(table(&json!({"a": {"nested": 1}})).is_none());
        assert!(table(&json!("text")).is_none());
    }

    #[test]
    fn diffs_split_into_before_and_after() {
        let d = side_by_side(r#"{"before": {"s": "open"}, "after": {"s": "closed"}}"#).unwrap();
        assert!(d.before.contains("open") && d.after.contains("closed"));
        let d = side_by_side("--- a\n+++ b\n@@ -1 +1 @@\n-old line\n+new line\n same\n").unwrap();
        assert_eq!(d.before, "old line\nsame");
        assert_eq!(d.after, "new line\nsame");
        assert!(side_by_side("just prose").is_none());
    }
}
