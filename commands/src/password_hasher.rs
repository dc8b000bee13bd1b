//! Password hashing (DESIGN.md §4): Argon2id at the OWASP parameters (19 MiB, two
//! passes, one lane), stored as a PHC string that names its own parameters.
//!
//! Every hash runs on tokio's blocking pool: one costs tens of milliseconds of CPU, which
//! on an executor thread would stall every task behind it.
//!
//! Login must not tell an unknown address from a wrong password, by its answer or by its
//! time, so `verify` without a stored hash checks against a dummy hash made once with the
//! same parameters, and pays the same cost.
//!
//! Passwords arrive as `&str`, not as `domain`'s `Password`: that type is written
//! alongside this one, and a plain string keeps the two apart. Callers pass
//! `password.expose()`.

use argon2::{
    Algorithm, Argon2, Params, PasswordHash, PasswordHasher as _, PasswordVerifier as _, Version,
};
use rand::RngCore;
use std::{fmt, sync::Arc};

/// OWASP Password Storage Cheat Sheet, Argon2id: m = 19456 KiB, t = 2, p = 1.
pub const OWASP_MEMORY_KIB: u32 = 19_456;
pub const OWASP_PASSES: u32 = 2;
pub const OWASP_LANES: u32 = 1;

#[derive(Debug, thiserror::Error)]
pub enum PasswordHashError {
    #[error("invalid Argon2 parameters: {0}")]
    Params(#[source] argon2::Error),
    #[error("cannot hash the password: {0}")]
    Hash(#[source] argon2::password_hash::Error),
    #[error("the password hashing task did not finish: {0}")]
    Task(#[source] tokio::task::JoinError),
}

/// Cheap to clone: clones share the Argon2 context and the dummy hash.
#[derive(Clone)]
pub struct PasswordHasher(Arc<Inner>);

struct Inner {
    argon2: Argon2<'static>,
    /// A hash of a random password nobody knows, with this hasher's parameters.
    dummy: PasswordHash,
}

impl PasswordHasher {
    /// Argon2id at the OWASP parameters. Makes the dummy hash, so it costs one hash and
    /// blocks for that long: build one at start-up and clone it.
    pub fn new() -> Result<Self, PasswordHashError> {
        Self::with_params(OWASP_MEMORY_KIB, OWASP_PASSES, OWASP_LANES)
    }

    /// Argon2id at the smallest parameters the crate accepts, so tests run fast.
    /// **Never for production**: these hashes offer next to no resistance to guessing.
    pub fn for_tests() -> Self {
        Self::with_params(Params::MIN_M_COST, Params::MIN_T_COST, Params::MIN_P_COST)
            .expect("the minimum Argon2 parameters are valid")
    }

    fn with_params(memory_kib: u32, passes: u32, lanes: u32) -> Result<Self, PasswordHashError> {
        let params =
            Params::new(memory_kib, passes, lanes, None).map_err(PasswordHashError::Params)?;
        let argon2 = Argon2::new(Algorithm::Argon2id, Version::V0x13, params);
        let mut unknowable = [0u8; 32];
        rand::rngs::OsRng.fill_bytes(&mut unknowable);
        let dummy = argon2
            .hash_password(&unknowable)
            .map_err(PasswordHashError::Hash)?;
        Ok(Self(Arc::new(Inner { argon2, dummy })))
    }

    /// Hashes with a fresh random salt; returns the PHC string to store.
    pub async fn hash(&self, password: &str) -> Result<String, PasswordHashError> {
        let inner = Arc::clone(&self.0);
        let password = password.to_owned();
        tokio::task::spawn_blocking(move || {
            inner
                .argon2
                .hash_password(password.as_bytes())
                .map(|hash| hash.to_string())
                .map_err(PasswordHashError::Hash)
        })
        .await
        .map_err(PasswordHashError::Task)?
    }

    /// Whether `password` matches the stored PHC string. `None` (no account with that
    /// address) always answers false, after the same work as a wrong password.
    pub async fn verify(&self, password: &str, phc: Option<&str>) -> bool {
        let inner = Arc::clone(&self.0);
        let password = password.to_owned();
        let phc = phc.map(str::to_owned);
        let known = phc.is_some();
        let task = tokio::task::spawn_blocking(move || {
            let stored = match phc.as_deref().map(PasswordHash::new) {
                Some(Ok(stored)) => Some(stored),
                None => None,
                Some(Err(e)) => {
                    tracing::error!(error = %e, "a stored password hash is not a PHC string");
                    None
                }
            };
            let matches = inner
                .argon2
                .verify_password(password.as_bytes(), stored.as_ref().unwrap_or(&inner.dummy))
                .is_ok();
            stored.is_some() && matches
        });
        match task.await {
            Ok(matches) => known && matches,
            Err(e) => {
                tracing::error!(error = %e, "the password verification task did not finish");
                false
            }
        }
    }
}

impl fmt::Debug for PasswordHasher {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("PasswordHasher")
            .field(&self.0.argon2)
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const PASSWORD: &str = "correct horse battery staple";

    #[tokio::test]
    async fn a_hash_verifies_its_password_only() {
        let hasher = PasswordHasher::for_tests();
        let phc = hasher.hash(PASSWORD).await.unwrap();
        assert!(hasher.verify(PASSWORD, Some(&phc)).await);
        assert!(
            !hasher
                .verify("correct horse battery stapler", Some(&phc))
                .await
        );
        assert!(!hasher.verify("", Some(&phc)).await);
        assert_ne!(hasher.hash(PASSWORD).await.unwrap(), phc, "a fresh salt");
    }

    #[tokio::test]
    async fn no_stored_hash_or_a_broken_one_never_verifies() {
        let hasher = PasswordHasher::for_tests();
        assert!(!hasher.verify(PASSWORD, None).await);
        assert!(!hasher.verify("", None).await);
        assert!(!hasher.verify(PASSWORD, Some("not a phc string")).await);
        assert!(!hasher.verify(PASSWORD, Some("")).await);
    }

    #[tokio::test]
    async fn production_hashes_are_argon2id_at_the_owasp_parameters() {
        let hasher = PasswordHasher::new().unwrap();
        let phc = hasher.hash(PASSWORD).await.unwrap();
        assert!(phc.starts_with("$argon2id$v=19$m=19456,t=2,p=1$"), "{phc}");
        assert!(!phc.contains(PASSWORD));
        assert!(hasher.verify(PASSWORD, Some(&phc)).await);
        assert!(!hasher.verify("wrong", Some(&phc)).await);
        assert!(!hasher.verify(PASSWORD, None).await);
        let dummy = hasher.0.dummy.to_string();
        assert!(
            dummy.starts_with("$argon2id$v=19$m=19456,t=2,p=1$"),
            "{dummy}"
        );
    }

    #[test]
    fn debug_shows_parameters_only() {
        let shown = format!("{:?}", PasswordHasher::for_tests());
        assert!(shown.starts_with("PasswordHasher(Argon2"), "{shown}");
        assert!(!shown.contains("dummy"));
    }
}
