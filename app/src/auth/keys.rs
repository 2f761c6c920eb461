//! Agent API keys: random secrets shown once; only their SHA-256 is stored.
//! (A fast hash is right here: the key has 256 bits of entropy, so nothing
//! is gained by a slow password hash, and every API call looks one up.)

use base64::Engine;
use rand::RngCore;
use sha2::{Digest, Sha256};

pub const KEY_PREFIX: &str = "belay_";

pub struct NewKey {
    /// The whole key; shown to a person once and never stored.
    pub secret: String,
    /// Its first characters, stored so that people can tell keys apart.
    pub prefix: String,
    pub hash: String,
}

pub fn generate() -> NewKey {
    let mut bytes = [0u8; 32];
    rand::rngs::OsRng.fill_bytes(&mut bytes);
    let secret = format!(
        "{KEY_PREFIX}{}",
        base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)
    );
    NewKey {
        prefix: secret[..KEY_PREFIX.len() + 8].to_string(),
        hash: hash(&secret),
        secret,
    }
}

pub fn hash(secret: &str) -> String {
    crate::text::hex(&Sha256::digest(secret.as_bytes()))
}

/// Whether a presented bearer token has the shape of a Belay key at all.
pub fn well_formed(token: &str) -> bool {
    token.len() == KEY_PREFIX.len() + 43
        && token.starts_with(KEY_PREFIX)
        && token[KEY_PREFIX.len()..]
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn generated_keys_are_well_formed_unique_and_hashed() {
        let a = generate();
        let b = generate();
        assert!(well_formed(&a.secret), "{}", a.secret);
        assert_ne!(a.secret, b.secret);
        assert_eq!(a.hash, hash(&a.secret));
        assert_eq!(a.hash.len(), 64);
        assert!(a.secret.starts_with(&a.prefix));
        assert!(!a.hash.contains(&a.secret));
    }

    #[test]
    fn malformed_tokens_are_recognised() {
        assert!(!well_formed(""));
        assert!(!well_formed("belay_short"));
        assert!(!well_formed(&format!("other_{}", "a".repeat(43))));
        assert!(!well_formed(&format!("belay_{}", "a b".repeat(14) + "a")));
    }
}
