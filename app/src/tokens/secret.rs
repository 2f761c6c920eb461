//! The secret of a personal access token: 256 random bits after a prefix
//! that says what it is (`belay_pat_`), so a token pasted in the wrong
//! place is recognised (and an agent key is never taken for one, nor the
//! other way round: the lengths and prefixes differ). Only its SHA-256 is
//! stored, as for agent keys.

use base64::Engine;
use rand::RngCore;

pub const TOKEN_PREFIX: &str = "belay_pat_";
/// Unpadded URL-safe base64 of 32 bytes.
const BODY_LEN: usize = 43;

pub struct NewToken {
    /// The whole token; shown to its person once and never stored.
    pub secret: String,
    /// Its first characters, stored so that people can tell tokens apart.
    pub prefix: String,
    pub hash: String,
}

pub fn generate() -> NewToken {
    let mut bytes = [0u8; 32];
    rand::rngs::OsRng.fill_bytes(&mut bytes);
    let secret = format!(
        "{TOKEN_PREFIX}{}",
        base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)
    );
    NewToken {
        prefix: secret[..TOKEN_PREFIX.len() + 6].to_string(),
        hash: hash(&secret),
        secret,
    }
}

pub fn hash(secret: &str) -> String {
    crate::auth::keys::hash(secret)
}

/// Whether a presented bearer token has the shape of a personal token.
pub fn well_formed(token: &str) -> bool {
    token.len() == TOKEN_PREFIX.len() + BODY_LEN
        && token.starts_with(TOKEN_PREFIX)
        && token[TOKEN_PREFIX.len()..]
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_are_well_formed_unique_hashed_and_never_agent_keys() {
        let a = generate();
        let b = generate();
        assert!(well_formed(&a.secret), "{}", a.secret);
        assert_ne!(a.secret, b.secret);
        assert_eq!(a.hash, hash(&a.secret));
        assert!(a.secret.starts_with(&a.prefix));
        assert!(!crate::auth::keys::well_formed(&a.secret));
        let key = crate::auth::keys::generate();
        assert!(!well_formed(&key.secret));
        assert!(!well_formed("belay_pat_short"));
        assert!(!well_formed(&format!(
            "{TOKEN_PREFIX}{}",
            "a b".repeat(14) + "a"
        )));
    }
}
