//! Password hashing (DESIGN.md §4): Argon2id at the OWASP parameters (19 MiB, two
//! passes, one lane), stored as a PHC string that names its own parameters.
//!
//! Every hash runs on the hasher's own threads, one per core, fed by a short queue: one
//! costs tens of milliseconds of CPU and 19 MiB, which on an executor thread would stall
//! every task behind it, and on tokio's blocking pool would run as many at once as
//! requests arrive (48 concurrent sign-ins once took 800 MiB, which the allocator's
//! per-thread arenas then kept). Here at most one hash per core runs, and a request that
//! finds the queue full is refused (`Busy`, answered RATE_LIMITED) rather than waiting
//! without bound.
//!
//! Each thread allocates its 19 MiB of Argon2 memory once and hashes in it every time
//! (`hash_password_into_with_memory`): the crate's `hash_password`/`verify_password`
//! allocate and free it per call, and the allocator kept each freed block, so memory grew
//! by 19 MiB a sign-in until the arenas were full. The PHC string is read and written
//! with the crate's own types; only the comparison of outputs is spelt here, with its
//! constant-time equality.
//!
//! Login must not tell an unknown address from a wrong password, by its answer or by its
//! time, so `verify` without a stored hash checks against a dummy hash made once with the
//! same parameters, and pays the same cost.
//!
//! Passwords arrive as `&str`, not as `domain`'s `Password`: that type is written
//! alongside this one, and a plain string keeps the two apart. Callers pass
//! `password.expose()`.

use argon2::{
    Algorithm, Argon2, Block, Params, PasswordHash, Version,
    password_hash::phc::{Output, ParamsString, Salt},
};
use rand::RngCore;
use std::{
    fmt,
    sync::{Arc, Mutex, mpsc},
};
use tokio::sync::oneshot;

/// OWASP Password Storage Cheat Sheet, Argon2id: m = 19456 KiB, t = 2, p = 1.
pub const OWASP_MEMORY_KIB: u32 = 19_456;
pub const OWASP_PASSES: u32 = 2;
pub const OWASP_LANES: u32 = 1;

#[derive(Debug, thiserror::Error)]
pub enum PasswordHashError {
    #[error("invalid Argon2 parameters: {0}")]
    Params(#[source] argon2::Error),
    #[error("cannot hash the password: {0}")]
    Hash(String),
    #[error("the password hashing task did not finish")]
    Task,
    #[error("too many sign-ins are being checked at once; try again in a moment")]
    Busy,
}

/// Requests waiting for a hashing thread, per thread.
const QUEUE_PER_THREAD: usize = 16;

type Job = Box<dyn FnOnce(&Inner, &mut Memory) + Send>;

/// A hashing thread's Argon2 memory, allocated once and reused.
#[derive(Default)]
struct Memory(Vec<Block>);

impl Memory {
    fn for_params(&mut self, params: &Params) -> &mut [Block] {
        let blocks = params.block_count();
        if self.0.len() < blocks {
            self.0 = vec![Block::new(); blocks];
        }
        &mut self.0[..blocks]
    }
}

fn hash_error(e: impl fmt::Display) -> PasswordHashError {
    PasswordHashError::Hash(e.to_string())
}

/// A new PHC string for `password` with a fresh salt, hashed in `memory`.
fn hash_in(
    argon2: &Argon2<'_>,
    password: &[u8],
    memory: &mut Memory,
) -> Result<String, PasswordHashError> {
    let mut salt = [0u8; 16];
    rand::rngs::OsRng.fill_bytes(&mut salt);
    let params = argon2.params().clone();
    let mut out = [0u8; 32];
    argon2
        .hash_password_into_with_memory(password, &salt, &mut out, memory.for_params(&params))
        .map_err(hash_error)?;
    let phc = PasswordHash {
        algorithm: Algorithm::Argon2id.ident(),
        version: Some(Version::V0x13.into()),
        params: ParamsString::try_from(&params).map_err(hash_error)?,
        salt: Some(Salt::new(&salt).map_err(hash_error)?),
        hash: Some(Output::new(&out).map_err(hash_error)?),
    };
    Ok(phc.to_string())
}

impl Inner {
    /// Whether `password` hashes, with `stored`'s algorithm, parameters and salt, to its
    /// output (compared in constant time).
    fn matches(&self, password: &[u8], stored: &PasswordHash, memory: &mut Memory) -> bool {
        let mut check = || -> Result<bool, PasswordHashError> {
            let algorithm = Algorithm::try_from(stored.algorithm.as_str()).map_err(hash_error)?;
            let version = Version::try_from(stored.version.unwrap_or(Version::V0x13.into()))
                .map_err(hash_error)?;
            let params = Params::try_from(stored).map_err(hash_error)?;
            let (Some(salt), Some(expected)) = (&stored.salt, &stored.hash) else {
                return Ok(false);
            };
            let mut out = vec![0u8; expected.len()];
            Argon2::new(algorithm, version, params.clone())
                .hash_password_into_with_memory(
                    password,
                    salt.as_ref(),
                    &mut out,
                    memory.for_params(&params),
                )
                .map_err(hash_error)?;
            Ok(Output::new(&out).map_err(hash_error)? == *expected)
        };
        check().unwrap_or_else(|e| {
            tracing::error!(error = %e, "a stored password hash could not be checked");
            false
        })
    }
}

/// Cheap to clone: clones share the Argon2 context, the dummy hash and the threads (which
/// end when the last clone is dropped).
#[derive(Clone)]
pub struct PasswordHasher {
    inner: Arc<Inner>,
    jobs: mpsc::SyncSender<Job>,
}

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
        let dummy = hash_in(&argon2, &unknowable, &mut Memory::default())?;
        let dummy = PasswordHash::new(&dummy).map_err(hash_error)?;
        let inner = Arc::new(Inner { argon2, dummy });
        let threads = std::thread::available_parallelism().map_or(2, |n| n.get());
        let (jobs, queue) = mpsc::sync_channel::<Job>(threads * QUEUE_PER_THREAD);
        let queue = Arc::new(Mutex::new(queue));
        for i in 0..threads {
            let (inner, queue) = (Arc::clone(&inner), Arc::clone(&queue));
            std::thread::Builder::new()
                .name(format!("argon2-{i}"))
                .spawn(move || {
                    let mut memory = Memory::default();
                    loop {
                        // The lock is held only to take the next job, not while running it.
                        let next = queue.lock().map(|q| q.recv());
                        let Ok(Ok(job)) = next else { return };
                        job(&inner, &mut memory);
                    }
                })
                .expect("a password-hashing thread starts");
        }
        Ok(Self { inner, jobs })
    }

    /// Runs `work` on a hashing thread, or refuses at once when the queue is full.
    async fn run<T: Send + 'static>(
        &self,
        work: impl FnOnce(&Inner, &mut Memory) -> T + Send + 'static,
    ) -> Result<T, PasswordHashError> {
        let (answer, answered) = oneshot::channel();
        let job: Job = Box::new(move |inner, memory| {
            let _ = answer.send(work(inner, memory));
        });
        self.jobs.try_send(job).map_err(|e| match e {
            mpsc::TrySendError::Full(_) => PasswordHashError::Busy,
            mpsc::TrySendError::Disconnected(_) => PasswordHashError::Task,
        })?;
        answered.await.map_err(|_| PasswordHashError::Task)
    }

    /// Hashes with a fresh random salt; returns the PHC string to store.
    pub async fn hash(&self, password: &str) -> Result<String, PasswordHashError> {
        let password = password.to_owned();
        self.run(move |inner, memory| hash_in(&inner.argon2, password.as_bytes(), memory))
            .await?
    }

    /// Whether `password` matches the stored PHC string. `None` (no account with that
    /// address) always answers false, after the same work as a wrong password. Refused
    /// (`Busy`) only when too many checks are waiting already.
    pub async fn verify(
        &self,
        password: &str,
        phc: Option<&str>,
    ) -> Result<bool, PasswordHashError> {
        let password = password.to_owned();
        let phc = phc.map(str::to_owned);
        self.run(move |inner, memory| {
            let stored = match phc.as_deref().map(PasswordHash::new) {
                Some(Ok(stored)) => Some(stored),
                None => None,
                Some(Err(e)) => {
                    tracing::error!(error = %e, "a stored password hash is not a PHC string");
                    None
                }
            };
            let matches = inner.matches(
                password.as_bytes(),
                stored.as_ref().unwrap_or(&inner.dummy),
                memory,
            );
            stored.is_some() && matches
        })
        .await
    }
}

impl fmt::Debug for PasswordHasher {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("PasswordHasher")
            .field(&self.inner.argon2)
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
        assert!(hasher.verify(PASSWORD, Some(&phc)).await.unwrap());
        assert!(
            !hasher
                .verify("correct horse battery stapler", Some(&phc))
                .await
                .unwrap()
        );
        assert!(!hasher.verify("", Some(&phc)).await.unwrap());
        assert_ne!(hasher.hash(PASSWORD).await.unwrap(), phc, "a fresh salt");
    }

    #[tokio::test]
    async fn no_stored_hash_or_a_broken_one_never_verifies() {
        let hasher = PasswordHasher::for_tests();
        assert!(!hasher.verify(PASSWORD, None).await.unwrap());
        assert!(!hasher.verify("", None).await.unwrap());
        assert!(
            !hasher
                .verify(PASSWORD, Some("not a phc string"))
                .await
                .unwrap()
        );
        assert!(!hasher.verify(PASSWORD, Some("")).await.unwrap());
    }

    #[tokio::test]
    async fn production_hashes_are_argon2id_at_the_owasp_parameters() {
        let hasher = PasswordHasher::new().unwrap();
        let phc = hasher.hash(PASSWORD).await.unwrap();
        assert!(phc.starts_with("$argon2id$v=19$m=19456,t=2,p=1$"), "{phc}");
        assert!(!phc.contains(PASSWORD));
        assert!(hasher.verify(PASSWORD, Some(&phc)).await.unwrap());
        assert!(!hasher.verify("wrong", Some(&phc)).await.unwrap());
        assert!(!hasher.verify(PASSWORD, None).await.unwrap());
        let dummy = hasher.inner.dummy.to_string();
        assert!(
            dummy.starts_with("$argon2id$v=19$m=19456,t=2,p=1$"),
            "{dummy}"
        );
    }

    #[tokio::test]
    async fn hashes_made_by_the_crate_itself_still_verify() {
        use argon2::PasswordHasher as _;
        let crate_made = Argon2::new(
            Algorithm::Argon2id,
            Version::V0x13,
            Params::new(OWASP_MEMORY_KIB, OWASP_PASSES, OWASP_LANES, None).unwrap(),
        )
        .hash_password(PASSWORD.as_bytes())
        .unwrap()
        .to_string();
        let hasher = PasswordHasher::for_tests();
        assert!(hasher.verify(PASSWORD, Some(&crate_made)).await.unwrap());
        assert!(!hasher.verify("wrong", Some(&crate_made)).await.unwrap());
        let ours = PasswordHasher::new().unwrap().hash(PASSWORD).await.unwrap();
        let parsed = PasswordHash::new(&ours).unwrap();
        use argon2::PasswordVerifier as _;
        assert!(
            Argon2::default()
                .verify_password(PASSWORD.as_bytes(), &parsed)
                .is_ok()
        );
    }

    #[tokio::test]
    async fn a_full_queue_refuses_at_once_instead_of_waiting() {
        let hasher = PasswordHasher::new().unwrap();
        let phc = hasher.hash(PASSWORD).await.unwrap();
        let threads = std::thread::available_parallelism().map_or(2, |n| n.get());
        let checks: Vec<_> = (0..threads * (QUEUE_PER_THREAD + 1) + 8)
            .map(|_| {
                let (hasher, phc) = (hasher.clone(), phc.clone());
                tokio::spawn(async move { hasher.verify(PASSWORD, Some(&phc)).await })
            })
            .collect();
        let mut busy = 0;
        for check in checks {
            match check.await.unwrap() {
                Ok(matches) => assert!(matches),
                Err(PasswordHashError::Busy) => busy += 1,
                Err(e) => panic!("{e}"),
            }
        }
        assert!(busy >= 8, "{busy} refused");
        assert!(
            hasher.verify(PASSWORD, Some(&phc)).await.unwrap(),
            "free again"
        );
    }

    #[test]
    fn debug_shows_parameters_only() {
        let shown = format!("{:?}", PasswordHasher::for_tests());
        assert!(shown.starts_with("PasswordHasher(Argon2"), "{shown}");
        assert!(!shown.contains("dummy"));
    }
}
