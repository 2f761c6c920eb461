//! Reading structured evidence into shapes the viewer draws. Agents send
//! what they have, so each reader is lenient about field names and says
//! `None` when the JSON is not the shape it expects (the viewer then shows
//! the JSON as a tree).

use serde_json::Value;

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

pub fn request_log(v: &Value) -> Option<Vec<LoggedRequest>> {
    let items = v.as_array()?;
    items
        .iter()
        .map(|item| {
            let o = item.as_object()?;
            Some(LoggedRequest {
                method: text(o.get("method")).unwrap_or_default(),
                url: text(o.get("url").or(o.get("uri"))).unwrap_or_default(),
                status: text(o.get("status").or(o.get("status_code"))).unwrap_or_default(),
                timing: ["duration_ms", "timing_ms", "ms", "elapsed_ms"]
                    .iter()
                    .find_map(|k| text(o.get(*k)).map(|t| format!("{t} ms")))
                    .or_else(|| text(o.get("timing").or(o.get("duration"))))
                    .unwrap_or_default(),
                request_body: body(o.get("request_body").or(o.get("request"))),
                response_body: body(o.get("response_body").or(o.get("response"))),
            })
        })
        .collect()
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

pub fn timeline(v: &Value) -> Option<Vec<TimelineEvent>> {
    let items = v.as_array()?;
    items
        .iter()
        .map(|item| {
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
                .map(|(k, v)| format!("{k}: {}", text(Some(v)).unwrap_or_default()))
                .collect::<Vec<_>>()
                .join(" · ");
            Some(TimelineEvent {
                at: at_key.and_then(|k| text(o.get(k))).unwrap_or_default(),
                kind: kind_key
                    .and_then(|k| text(o.get(k)))
                    .unwrap_or_else(|| "event".into()),
                url: text(o.get("url")),
                detail,
            })
        })
        .collect()
}

/// A flat object, or an array of flat objects, as a table: the columns in
/// first-seen order, and one row per object.
pub fn table(v: &Value) -> Option<(Vec<String>, Vec<Vec<String>>)> {
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
    let mut columns: Vec<String> = Vec::new();
    for o in &rows {
        for k in o.keys() {
            if !columns.contains(k) {
                columns.push(k.clone());
            }
        }
    }
    let cells = rows
        .iter()
        .map(|o| {
            columns
                .iter()
                .map(|c| text(o.get(c)).unwrap_or_default())
                .collect()
        })
        .collect();
    Some((columns, cells))
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
    if let Ok(Value::Object(o)) = serde_json::from_str::<Value>(raw) {
        let (b, a) = (o.get("before")?, o.get("after")?);
        return Some(SideBySide {
            before: pretty(b),
            after: pretty(a),
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
        before: before.join("\n"),
        after: after.join("\n"),
    })
}

fn pretty(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        other => serde_json::to_string_pretty(other).unwrap_or_default(),
    }
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
        .unwrap();
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
        .unwrap();
        assert!(events[0].is_transition());
        assert!(!events[1].is_transition());
        assert_eq!(events[1].detail, "detail: overdue · n: 2");
    }

    #[test]
    fn flat_json_becomes_a_table_and_nested_json_does_not() {
        let (cols, rows) = table(&json!([{"a": 1, "b": "x"}, {"b": "y", "c": null}])).unwrap();
        assert_eq!(cols, vec!["a", "b", "c"]);
        assert_eq!(rows[1], vec!["", "y", ""]);
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
