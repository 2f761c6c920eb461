//! What Belay hashes is canonical JSON (RFC 8785, the JSON Canonicalization
//! Scheme): keys sorted by UTF-16 code units, numbers as ECMAScript prints
//! them, no whitespace. So a hash depends on the value alone, never on a
//! serializer's habits (map order, float formatting) or a dependency's
//! features; the tests pin it to fixed vectors.

use serde::Serialize;
use serde_json::Value;
use sha2::{Digest, Sha256};
use std::io::Write;

/// Largest integer JSON carries exactly everywhere (I-JSON, RFC 7493):
/// canonical JSON writes numbers as IEEE doubles, so bigger integers would
/// hash alike.
pub const MAX_SAFE_INTEGER: u64 = (1 << 53) - 1;

/// Refuses a value canonical JSON cannot hash faithfully: a number beyond
/// ±(2^53 − 1), however it is written (`9007199254740993` and
/// `9007199254740993.0` would both hash as …992). Such a number is sent as
/// a string instead. (One bound for every number is also what the OpenAPI
/// document can state.)
pub fn check_exact(value: &serde_json::Value, what: &str) -> Result<(), crate::error::AppError> {
    use serde_json::Value;
    let exact = |n: &serde_json::Number| match (n.as_i64(), n.as_u64(), n.as_f64()) {
        (Some(i), _, _) => i.unsigned_abs() <= MAX_SAFE_INTEGER,
        (None, Some(u), _) => u <= MAX_SAFE_INTEGER,
        // A float this large is an integer, and maybe not the one written.
        (None, None, Some(f)) => f.abs() <= MAX_SAFE_INTEGER as f64,
        (None, None, None) => true,
    };
    let ok = match value {
        Value::Number(n) => exact(n),
        Value::Array(items) => return items.iter().try_for_each(|v| check_exact(v, what)),
        Value::Object(map) => return map.values().try_for_each(|v| check_exact(v, what)),
        Value::Null | Value::Bool(_) | Value::String(_) => true,
    };
    if ok {
        Ok(())
    } else {
        Err(crate::error::AppError::Validation(format!(
            "{what} hold a number beyond ±(2^53 − 1), which JSON does not carry exactly; send it as a string"
        )))
    }
}

/// The canonical text of a JSON value, written straight from the value.
/// The canonicalizer (`reference_json`, which the tests hold this to byte
/// for byte) buffers each member of an object to sort it, which made the
/// audit row's detail and the payload hash about a tenth of a durable
/// decision's CPU; a `Value`'s members can be sorted as references.
pub fn json(value: &Value) -> String {
    let mut out = Vec::with_capacity(256);
    write_value(&mut out, value).expect("writing to a Vec");
    // Only JSON text, from valid strings, was written.
    String::from_utf8(out).expect("canonical JSON is UTF-8")
}

/// SHA-256 of the canonical text, in hex. The text streams into the hash
/// (the audit verifier does this for every event).
pub fn sha256(value: &Value) -> String {
    hash_of(|hasher| write_value(hasher, value))
}

/// SHA-256 of a flat record: a struct of strings, optional strings and
/// integers within ±(2^53 − 1), its fields declared in sorted order. For
/// such a record serde_json writes exactly the canonical text (same string
/// escapes, integers in plain decimal, no whitespace), without the
/// canonicalizer's buffering. Callers test their record against
/// `reference_sha256`.
pub fn flat_sha256<S: Serialize>(record: &S) -> String {
    hash_of(|hasher| serde_json::to_writer(hasher, record).map_err(Into::into))
}

/// The canonicalizer's text of any serializable value: what `json` and
/// `flat_sha256` must agree with.
#[cfg(test)]
pub(crate) fn reference_json<S: Serialize>(value: &S) -> String {
    serde_json_canonicalizer::to_string(value).expect("canonical JSON of plain data")
}

/// SHA-256 of `reference_json`, in hex.
#[cfg(test)]
pub(crate) fn reference_sha256<S: Serialize>(value: &S) -> String {
    hash_of(|hasher| serde_json_canonicalizer::to_writer(value, hasher).map_err(Into::into))
}

/// SHA-256, in hex, of what `write` streams into it.
fn hash_of(write: impl FnOnce(&mut Hashing) -> std::io::Result<()>) -> String {
    let mut hasher = Hashing(Sha256::new());
    // Hashing cannot fail, and plain data always serializes.
    write(&mut hasher).expect("canonical JSON of plain data");
    crate::text::hex(&hasher.0.finalize())
}

fn write_value<W: Write>(out: &mut W, value: &Value) -> std::io::Result<()> {
    match value {
        Value::Null => out.write_all(b"null"),
        Value::Bool(true) => out.write_all(b"true"),
        Value::Bool(false) => out.write_all(b"false"),
        // Numbers print as ECMAScript prints the double: the canonicalizer's
        // own formatting, with nothing to buffer for a lone number.
        Value::Number(n) => serde_json_canonicalizer::to_writer(n, out).map_err(Into::into),
        // serde_json escapes strings as RFC 8785 does: `"`, `\` and the
        // control characters, the short forms where they exist, else
        // `\u00xx` in lower case; nothing else.
        Value::String(s) => serde_json::to_writer(out, s).map_err(Into::into),
        Value::Array(items) => {
            out.write_all(b"[")?;
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.write_all(b",")?;
                }
                write_value(out, item)?;
            }
            out.write_all(b"]")
        }
        Value::Object(map) => {
            // Keys sort by UTF-16 code units, not by the map's UTF-8 order
            // (they differ past U+FFFF).
            let mut members: Vec<(&String, &Value)> = map.iter().collect();
            members.sort_unstable_by(|a, b| a.0.encode_utf16().cmp(b.0.encode_utf16()));
            out.write_all(b"{")?;
            for (i, (key, item)) in members.into_iter().enumerate() {
                if i > 0 {
                    out.write_all(b",")?;
                }
                serde_json::to_writer(&mut *out, key)?;
                out.write_all(b":")?;
                write_value(out, item)?;
            }
            out.write_all(b"}")
        }
    }
}

struct Hashing(Sha256);

impl std::io::Write for Hashing {
    fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
        self.0.update(bytes);
        Ok(bytes.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use serde_json::json;

    #[test]
    fn keys_sort_by_utf16_and_numbers_print_as_ecmascript_does() {
        // From RFC 8785 §3.2.3: sorting by UTF-16 code units puts U+1F600
        // (a surrogate pair, 0xD83D…) before U+FB33.
        let v = json!({"\u{fb33}": 1, "\u{1f600}": 2, "a": 1.0, "b": 1e21, "c": 0.000001, "d": "\u{7f}é\n"});
        assert_eq!(
            json(&v),
            "{\"a\":1,\"b\":1e+21,\"c\":0.000001,\"d\":\"\u{7f}é\\n\",\"\u{1f600}\":2,\"\u{fb33}\":1}"
        );
    }

    #[test]
    fn numbers_beyond_what_json_carries_exactly_are_refused() {
        assert!(check_exact(
            &json!({"a": [9007199254740991_i64, -9007199254740991_i64]}),
            "x"
        )
        .is_ok());
        assert!(check_exact(&json!({"a": {"b": 9007199254740992_u64}}), "x").is_err());
        assert!(check_exact(&json!([-9007199254740992_i64]), "x").is_err());
        assert!(check_exact(&json!({"id": "1234567890123456789", "f": 0.5}), "x").is_ok());
        assert!(check_exact(&json!({"f": -9007199254740991.0}), "x").is_ok());
        assert!(check_exact(&json!({"f": 9007199254740992.0}), "x").is_err());
        assert!(check_exact(&json!([1e300]), "x").is_err());
    }

    /// Any JSON value: every escape, keys past U+FFFF, numbers of every kind.
    fn any_value() -> impl Strategy<Value = Value> {
        let text = prop_oneof![
            "[a-c\\u{0}-\\u{1f}\"\\\\/\\u{7f}]{0,6}",
            "[a\\u{e000}-\\u{e002}\\u{fb33}\\u{ffff}\\u{10000}\\u{1f600}é]{0,4}",
        ];
        let leaf = prop_oneof![
            Just(Value::Null),
            any::<bool>().prop_map(Value::from),
            any::<i64>().prop_map(Value::from),
            any::<u64>().prop_map(Value::from),
            any::<f64>().prop_map(Value::from),
            (-1_000_000i64..1_000_000, 1..7u32)
                .prop_map(|(m, e)| Value::from(m as f64 / 10f64.powi(e as i32))),
            text.clone().prop_map(Value::from),
        ];
        leaf.prop_recursive(4, 48, 6, move |inner| {
            prop_oneof![
                prop::collection::vec(inner.clone(), 0..6).prop_map(Value::from),
                prop::collection::btree_map(text.clone(), inner, 0..6)
                    .prop_map(|m| Value::Object(m.into_iter().collect())),
            ]
        })
    }

    proptest! {
        #[test]
        fn a_value_written_directly_is_the_canonicalizers_text(v in any_value()) {
            prop_assert_eq!(json(&v), reference_json(&v));
            prop_assert_eq!(sha256(&v), reference_sha256(&v));
        }
    }

    #[test]
    fn the_hash_is_pinned() {
        let v = json!({"capability": "email.send", "params": {"amount": 500, "to": "a@b.c"}});
        assert_eq!(
            json(&v),
            r#"{"capability":"email.send","params":{"amount":500,"to":"a@b.c"}}"#
        );
        assert_eq!(
            sha256(&v),
            crate::text::hex(&Sha256::digest(json(&v).as_bytes()))
        );
        assert_eq!(
            sha256(&v),
            "77d5fd653f2c7169c14b43ee800cb7c68776014b32801b31cde86891a55d1e13"
        );
        assert_eq!(json(&v), reference_json(&v));
        assert_eq!(sha256(&v), reference_sha256(&v));
    }
}
