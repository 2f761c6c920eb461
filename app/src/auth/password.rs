//! Password hashing with argon2id (the crate's default), off the async runtime.

use crate::error::AppError;
use argon2::password_hash::{rand_core::OsRng, Output, PasswordHash, PasswordHasher, SaltString};
use argon2::{Algorithm, Argon2, Block, Params, Version};

pub const MIN_LENGTH: usize = 12;

pub fn check_strength(password: &str) -> Result<(), AppError> {
    if password.chars().count() < MIN_LENGTH {
        return Err(AppError::validation(format!(
            "passwords need at least {MIN_LENGTH} characters"
        )));
    }
    Ok(())
}

pub async fn hash(password: String) -> Result<String, AppError> {
    let span = tracing::Span::current();
    tokio::task::spawn_blocking(move || {
        let _guard = span.enter();
        let salt = SaltString::generate(&mut OsRng);
        Argon2::default()
            .hash_password(password.as_bytes(), &salt)
            .map(|h| h.to_string())
            .map_err(|e| {
                tracing::error!(error = %e, "password hashing failed");
                AppError::Internal
            })
    })
    .await?
}

/// A hash that verifies nothing, checked when the user does not exist so
/// that a wrong username takes as long as a wrong password.
const DUMMY_HASH: &str = "$argon2id$v=19$m=19456,t=2,p=1$c29tZXNhbHRzb21lc2FsdA$3fF2GMNfX6O2c7R0zOdrLTdw1BT08bfUrr6Ucqf1xrA";

pub async fn verify(password: String, stored: Option<String>) -> Result<bool, AppError> {
    let span = tracing::Span::current();
    tokio::task::spawn_blocking(move || {
        let _guard = span.enter();
        let exists = stored.is_some();
        let stored = stored.unwrap_or_else(|| DUMMY_HASH.to_string());
        let mut memory = Memory::take();
        let ok = check(password.as_bytes(), &stored, &mut memory.0).map_err(|e| {
            tracing::error!(error = %e, "stored password hash cannot be checked");
            AppError::Internal
        })?;
        Ok(ok && exists)
    })
    .await?
}

/// Recomputes the stored hash's digest in `memory` and compares it in
/// constant time: what `verify_password` does, but in memory kept for the
/// next check instead of 19 MiB allocated and freed each time (freed
/// blocks stay with the allocator of whichever thread ran the check, so a
/// flood of bad sign-ins grew the process by hundreds of MiB).
fn check(password: &[u8], stored: &str, memory: &mut Vec<Block>) -> Result<bool, String> {
    let e = |e: &dyn std::fmt::Display| e.to_string();
    let parsed = PasswordHash::new(stored).map_err(|x| e(&x))?;
    let algorithm = Algorithm::try_from(parsed.algorithm).map_err(|x| e(&x))?;
    let version = match parsed.version {
        Some(v) => Version::try_from(v).map_err(|x| e(&x))?,
        None => Version::default(),
    };
    let params = Params::try_from(&parsed).map_err(|x| e(&x))?;
    let (Some(salt), Some(expected)) = (parsed.salt, parsed.hash) else {
        return Err("no salt or digest".into());
    };
    let mut salt_buf = [0u8; 64];
    let salt = salt.decode_b64(&mut salt_buf).map_err(|x| e(&x))?;
    let blocks = params.block_count();
    if memory.len() < blocks {
        memory.resize(blocks, Block::new());
    }
    let mut out = [0u8; 64];
    let out = &mut out[..expected.len()];
    Argon2::new(algorithm, version, params)
        .hash_password_into_with_memory(password, salt, &mut *out, &mut memory[..blocks])
        .map_err(|x| e(&x))?;
    // `Output`'s equality is constant-time.
    Ok(Output::new(out).map_err(|x| e(&x))? == expected)
}

/// Working memory for password checks, kept for reuse: at most one per
/// core is kept, as many as checks run at once (`auth::throttle`).
struct Memory(Vec<Block>);

static SPARE: std::sync::Mutex<Vec<Vec<Block>>> = std::sync::Mutex::new(Vec::new());

impl Memory {
    fn take() -> Memory {
        let spare = SPARE.lock().unwrap_or_else(|e| e.into_inner()).pop();
        Memory(spare.unwrap_or_default())
    }
}

impl Drop for Memory {
    fn drop(&mut self) {
        let keep = std::thread::available_parallelism().map_or(2, |n| n.get());
        let mut spare = SPARE.lock().unwrap_or_else(|e| e.into_inner());
        if spare.len() < keep {
            spare.push(std::mem::take(&mut self.0));
        }
    }
}

/// A strong password for `belay user create` without `--password-stdin`.
pub fn generate() -> String {
    use rand::distributions::{Alphanumeric, DistString};
    Alphanumeric.sample_string(&mut rand::rngs::OsRng, 24)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_hash_verifies_its_password_only() {
        let h = hash("correct horse battery".into()).await.unwrap();
        assert!(h.starts_with("$argon2id$"));
        assert!(verify("correct horse battery".into(), Some(h.clone()))
            .await
            .unwrap());
        assert!(!verify("wrong horse battery".into(), Some(h)).await.unwrap());
    }

    #[tokio::test]
    async fn a_missing_user_never_verifies() {
        assert!(!verify("anything at all".into(), None).await.unwrap());
    }

    #[test]
    fn the_reused_memory_check_agrees_with_argon2_itself() {
        use argon2::password_hash::PasswordVerifier;
        let small = Params::new(1024, 1, 1, None).unwrap();
        let hashers = [
            Argon2::default(),
            Argon2::new(Algorithm::Argon2id, Version::V0x13, small),
        ];
        let mut memory = Vec::new();
        for hasher in hashers {
            let salt = SaltString::generate(&mut OsRng);
            let h = hasher
                .hash_password(b"right password", &salt)
                .unwrap()
                .to_string();
            for attempt in [&b"right password"[..], b"wrong password", b""] {
                let theirs = Argon2::default()
                    .verify_password(attempt, &PasswordHash::new(&h).unwrap())
                    .is_ok();
                assert_eq!(check(attempt, &h, &mut memory), Ok(theirs), "{h}");
            }
        }
        assert_eq!(check(b"x", DUMMY_HASH, &mut memory), Ok(false));
        assert!(check(b"x", "$argon2id$v=19$nonsense", &mut memory).is_err());
    }

    #[test]
    fn short_passwords_are_refused() {
        assert!(check_strength("short").is_err());
        assert!(check_strength("long enough pass").is_ok());
        assert_eq!(generate().len(), 24);
    }
}
