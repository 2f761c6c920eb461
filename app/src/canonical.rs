//! What Belay hashes is canonical JSON (RFC 8785, the JSON Canonicalization
//! Scheme): keys sorted by UTF-16 code units, numbers as ECMAScript prints
//! them, no whitespace. So a hash depends on the value alone, never on a
//! serializer's habits (map order, float formatting) or a dependency's
//! features; the tests pin it to fixed vectors.

use serde::Serialize;
use sha2::{Digest, Sha256};

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

/// The canonical text of a value.
pub fn json<S: Serialize>(value: &S) -> String {
    // Serializing plain data (maps, strings, numbers) cannot fail; a value
    // that could (a map with non-string keys) is a bug worth stopping on.
    serde_json_canonicalizer::to_string(value).expect("canonical JSON of plain data")
}

/// SHA-256 of the canonical text, in hex. The text streams into the hash
/// (the audit verifier does this for every event).
pub fn sha256<S: Serialize>(value: &S) -> String {
    let mut hasher = Hashing(Sha256::new());
    serde_json_canonicalizer::to_writer(value, &mut hasher).expect("canonical JSON of plain data");
    crate::text::hex(&hasher.0.finalize())
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
    }
}
