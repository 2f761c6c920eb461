//! Every evidence view against shapes built to blow it up: wide, deep,
//! long, many keys, huge strings. Each stays within `bounds` and says
//! what it left out.

use super::bounds::*;
use super::shape::{request_log, side_by_side, table, timeline};
use proptest::prelude::*;
use serde_json::{json, Map, Value};

/// One of the hostile shapes, sized by `n`.
fn hostile(kind: u8, n: usize, long: usize) -> Value {
    let big = "x".repeat(long);
    match kind % 6 {
        // The quadratic table: every row brings a new column.
        0 => Value::Array((0..n).map(|i| json!({ format!("k{i}"): 0 })).collect()),
        // One wide object.
        1 => Value::Object((0..n).map(|i| (format!("key{i}"), json!(big.clone()))).collect::<Map<_, _>>()),
        // Deep nesting, as deep as evidence can parse (serde_json stops at
        // 128 levels; each step here is two).
        2 => (0..n % 63).fold(json!(big), |inner, _| json!({ "a": [inner] })),
        // A long log with huge bodies.
        3 => Value::Array(
            (0..n)
                .map(|i| json!({ "method": "GET", "url": big.clone(), "status": i, "response_body": big.clone() }))
                .collect(),
        ),
        // A long timeline with many fields.
        4 => Value::Array(
            (0..n)
                .map(|i| {
                    let mut o: Map<String, Value> = (0..10).map(|j| (format!("f{j}"), json!(big.clone()))).collect();
                    o.insert("at".into(), json!(i));
                    Value::Object(o)
                })
                .collect(),
        ),
        // Many rows, few columns, huge cells.
        _ => Value::Array((0..n).map(|_| json!({ "a": big.clone(), "b": big.clone() })).collect()),
    }
}

fn chars(rows: &[Vec<String>]) -> usize {
    rows.iter().flatten().map(|c| c.chars().count()).sum()
}

fn nodes_and_depth(v: &Value) -> (usize, usize) {
    match v {
        Value::Object(o) => o
            .values()
            .map(nodes_and_depth)
            .fold((1, 1), |(n, d), (cn, cd)| (n + cn, d.max(cd + 1))),
        Value::Array(a) => a
            .iter()
            .map(nodes_and_depth)
            .fold((1, 1), |(n, d), (cn, cd)| (n + cn, d.max(cd + 1))),
        _ => (1, 1),
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(32))]

    #[test]
    fn every_view_stays_within_its_caps(kind in 0u8..6, n in 1usize..2_500, long in 0usize..1_200) {
        let v = hostile(kind, n, long);
        if let Some(t) = table(&v) {
            prop_assert!(t.columns.len() <= MAX_COLUMNS);
            prop_assert!(t.rows.len() <= MAX_ROWS);
            prop_assert!(t.rows.iter().all(|r| r.len() == t.columns.len()));
            prop_assert!(t.rows.iter().flatten().all(|c| c.chars().count() <= MAX_CELL_CHARS + 1));
            prop_assert!(chars(&t.rows) <= MAX_CHARS + 1);
        }
        let (pruned, cut) = prune(&v);
        let (nodes, depth) = nodes_and_depth(&pruned);
        prop_assert!(nodes <= MAX_NODES + 2 * MAX_DEPTH, "{nodes} nodes");
        prop_assert!(depth <= MAX_DEPTH + 1, "{depth} deep");
        let has_long = kind % 6 != 0 && long > MAX_CELL_CHARS;
        if nodes_and_depth(&v).0 > MAX_NODES || has_long {
            prop_assert!(cut, "what was left out is said");
        }
        if let Some(log) = request_log(&v) {
            prop_assert!(log.items.len() <= MAX_ROWS);
            let total: usize = log.items.iter().map(|r| {
                r.url.len() + r.response_body.as_ref().map_or(0, String::len) + r.request_body.as_ref().map_or(0, String::len)
            }).sum();
            prop_assert!(total <= MAX_CHARS * 4, "bytes of at most MAX_CHARS characters");
            prop_assert_eq!(log.cut.is_some(), log.items.len() < v.as_array().unwrap().len());
        }
        if let Some(events) = timeline(&v) {
            prop_assert!(events.items.len() <= MAX_ROWS);
            let total: usize = events.items.iter().map(|e| e.detail.chars().count() + e.at.chars().count()).sum();
            prop_assert!(total <= MAX_CHARS + 1);
        }
        let d = side_by_side(&json!({ "before": v, "after": v }).to_string()).unwrap();
        prop_assert!(d.before.chars().count() <= MAX_CHARS / 2 + 1);
        prop_assert!(d.after.chars().count() <= MAX_CHARS / 2 + 1);
    }

    #[test]
    fn unified_diffs_keep_at_most_max_lines_a_side(n in 1usize..20_000) {
        let raw: String = (0..n).map(|i| format!("-old {i}\n+new {i}\n")).collect();
        let d = side_by_side(&raw).unwrap();
        prop_assert!(d.before.lines().count() <= MAX_LINES + 1);
        prop_assert!(d.after.lines().count() <= MAX_LINES + 1);
    }
}

#[test]
fn the_quadratic_table_is_cut_to_its_caps_and_says_so() {
    let v = hostile(0, 50_000, 0);
    let t = table(&v).unwrap();
    assert_eq!((t.columns.len(), t.rows.len()), (MAX_COLUMNS, MAX_ROWS));
    assert_eq!(
        t.cut.as_deref(),
        Some("Showing 200 of 50000 rows. Showing 40 of 50000 columns.")
    );
}
