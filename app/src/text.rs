//! Free text from outside (summaries, purposes, reasons): trimmed, bounded,
//! and free of control characters other than line breaks and tabs (NUL,
//! for one, is refused by PostgreSQL and has no business in a summary).

use crate::error::AppError;

pub fn field(name: &str, raw: &str, max_chars: usize) -> Result<String, AppError> {
    let value = raw.trim();
    if value.is_empty() {
        return Err(AppError::validation(format!("{name} must not be empty")));
    }
    if value.chars().count() > max_chars {
        return Err(AppError::validation(format!(
            "{name} is longer than {max_chars} characters"
        )));
    }
    if value
        .chars()
        .any(|c| c.is_control() && !matches!(c, '\n' | '\r' | '\t'))
    {
        return Err(AppError::validation(format!(
            "{name} contains control characters"
        )));
    }
    Ok(value.to_string())
}

/// Lowercase hex of some bytes (hashes as stored and shown).
pub fn hex(bytes: &[u8]) -> String {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    let mut out = String::with_capacity(bytes.len() * 2);
    for b in bytes {
        out.push(DIGITS[usize::from(b >> 4)] as char);
        out.push(DIGITS[usize::from(b & 0xf)] as char);
    }
    out
}

/// Percent-encodes a query value: everything but RFC 3986's unreserved
/// characters and `/` (which a query may hold as is).
pub fn query_value(s: &str) -> String {
    s.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' | b'/' => {
                (b as char).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::{field, hex, query_value};

    #[test]
    fn hex_and_query_values_are_encoded() {
        assert_eq!(hex(&[0, 15, 255]), "000fff");
        assert_eq!(query_value("/a?b=c&d é"), "/a%3Fb%3Dc%26d%20%C3%A9");
    }

    #[test]
    fn text_is_trimmed_bounded_and_free_of_control_characters() {
        assert_eq!(field("summary", "  hi\nthere ", 20).unwrap(), "hi\nthere");
        assert!(field("summary", "   ", 20).is_err());
        assert!(field("summary", "abc", 2).is_err());
        assert!(field("summary", "a\u{0}b", 20).is_err());
        assert!(field("summary", "a\u{1b}[31mb", 20).is_err());
    }
}
