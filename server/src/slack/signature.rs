//! Slack's request signature: `X-Slack-Signature` is `v0=` and the hex
//! HMAC-SHA256, under the app's signing secret, of
//! `v0:{X-Slack-Request-Timestamp}:{raw body}`. Compared in constant time;
//! a timestamp more than five minutes off is refused, so a captured request
//! cannot be replayed later.

use hmac::{Hmac, Mac};
use sha2::Sha256;

/// How far a request's timestamp may be from now.
pub const MAX_SKEW_SECS: i64 = 5 * 60;

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Refused {
    Missing,
    Stale,
    BadSignature,
}

impl std::fmt::Display for Refused {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Refused::Missing => "the request is not signed by Slack",
            Refused::Stale => "the request's timestamp is more than five minutes off",
            Refused::BadSignature => "the request's Slack signature does not match",
        })
    }
}

/// The signature of a body at a timestamp, as Slack writes it.
pub fn sign(secret: &[u8], timestamp: &str, body: &[u8]) -> String {
    let digest = mac(secret, timestamp, body).finalize().into_bytes();
    format!("v0={}", app::text::hex(&digest))
}

fn mac(secret: &[u8], timestamp: &str, body: &[u8]) -> Hmac<Sha256> {
    let mut mac = Hmac::<Sha256>::new_from_slice(secret).expect("HMAC takes a key of any length");
    mac.update(b"v0:");
    mac.update(timestamp.as_bytes());
    mac.update(b":");
    mac.update(body);
    mac
}

/// Checks a request's timestamp and signature headers against its body.
pub fn verify(
    secret: &[u8],
    timestamp: Option<&str>,
    signature: Option<&str>,
    body: &[u8],
    now_secs: i64,
) -> Result<(), Refused> {
    let (Some(timestamp), Some(signature)) = (timestamp, signature) else {
        return Err(Refused::Missing);
    };
    let at: i64 = timestamp.trim().parse().map_err(|_| Refused::Missing)?;
    if (now_secs - at).abs() > MAX_SKEW_SECS {
        return Err(Refused::Stale);
    }
    let given = signature
        .strip_prefix("v0=")
        .and_then(unhex)
        .ok_or(Refused::BadSignature)?;
    // `verify_slice` compares in constant time.
    mac(secret, timestamp, body)
        .verify_slice(&given)
        .map_err(|_| Refused::BadSignature)
}

fn unhex(s: &str) -> Option<Vec<u8>> {
    if !s.len().is_multiple_of(2) {
        return None;
    }
    (0..s.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(s.get(i..i + 2)?, 16).ok())
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    // Slack's documented example (api.slack.com/authentication/verifying-requests-from-slack).
    const SECRET: &[u8] = b"8f742231b10e8888abcd99yyyzzz85a5";
    const TS: &str = "1531420618";
    const BODY: &[u8] = b"token=xyzz0WbapA4vBCDEFasx0q6G&team_id=T1DC2JH3J&team_domain=testteamnow&channel_id=G8PSS9T3V&channel_name=foobar&user_id=U2CERLKJA&user_name=roadrunner&command=%2Fwebhook-collect&text=&response_url=https%3A%2F%2Fhooks.slack.com%2Fcommands%2FT1DC2JH3J%2F397700885554%2F96rGlfmibIGlgcZRskXaIFfN&trigger_id=398738663015.47445629121.803a0bc887a14d10d2c447fce8b6703c";
    const SIG: &str = "v0=a2114d57b48eac39b9ad189dd8316235a7b4a8d21a10bd27519666489c69b503";

    #[test]
    fn slacks_documented_example_verifies() {
        assert_eq!(sign(SECRET, TS, BODY), SIG);
        assert_eq!(
            verify(SECRET, Some(TS), Some(SIG), BODY, 1531420618 + 10),
            Ok(())
        );
    }

    #[test]
    fn a_changed_body_secret_or_signature_is_refused() {
        let now = 1531420618;
        let bad = |s, sig, body| verify(s, Some(TS), Some(sig), body, now);
        assert_eq!(bad(SECRET, SIG, b"token=other"), Err(Refused::BadSignature));
        assert_eq!(
            bad(b"another secret", SIG, BODY),
            Err(Refused::BadSignature)
        );
        assert_eq!(
            bad(SECRET, &SIG[..SIG.len() - 2], BODY),
            Err(Refused::BadSignature)
        );
        assert_eq!(bad(SECRET, &SIG[3..], BODY), Err(Refused::BadSignature));
        assert_eq!(bad(SECRET, "v0=zz", BODY), Err(Refused::BadSignature));
        assert_eq!(
            verify(SECRET, None, Some(SIG), BODY, now),
            Err(Refused::Missing)
        );
        assert_eq!(
            verify(SECRET, Some(TS), None, BODY, now),
            Err(Refused::Missing)
        );
    }

    #[test]
    fn a_timestamp_more_than_five_minutes_off_is_refused() {
        let at = 1531420618;
        assert_eq!(
            verify(SECRET, Some(TS), Some(SIG), BODY, at + 301),
            Err(Refused::Stale)
        );
        assert_eq!(
            verify(SECRET, Some(TS), Some(SIG), BODY, at - 301),
            Err(Refused::Stale)
        );
        assert_eq!(verify(SECRET, Some(TS), Some(SIG), BODY, at + 300), Ok(()));
    }
}
