//! Password hashing with argon2id on a few threads of its own: a burst of
//! logins queues for those threads (and past a bound is refused as busy)
//! instead of taking every core from chat and the API; and the rules for a
//! new password.
//!
//! The threads run at normal priority: measured under the chat bench's
//! load, a lower priority (nice 10) starved sign-ins whenever the cores
//! were saturated (login p99 345 ms against 100 ms) without improving chat.
//!
//! `common_passwords.txt` holds the 8,354 entries of at least 8 characters
//! (lower-cased) of the 20,000 most common passwords that Django ships in
//! `django/contrib/auth/common-passwords.txt.gz` (compiled by Royce
//! Williams from leaked password sets; BSD-3-Clause as part of Django).
//! Shorter entries are refused by length anyway.

use std::collections::HashSet;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{mpsc, Arc, LazyLock, Mutex};

use argon2::password_hash::rand_core::OsRng;
use argon2::password_hash::{PasswordHash, PasswordHasher as _, PasswordVerifier as _, SaltString};
use argon2::{Algorithm, Argon2, Params, Version};

use super::error::DomainError;

/// OWASP's minimum for argon2id: 19 MiB, two passes, one lane.
const MEMORY_KIB: u32 = 19 * 1024;
const PASSES: u32 = 2;
const LANES: u32 = 1;

pub const MIN_PASSWORD_LEN: usize = 10;
const MAX_PASSWORD_LEN: usize = 1024;

/// Hashes waiting per thread beyond which more are refused (503 with
/// `Retry-After`) rather than queued: at about 40 ms a hash, a queue this
/// long is already most of a second of waiting.
const QUEUED_PER_THREAD: usize = 16;

type HashJob = Box<dyn FnOnce() + Send>;

/// The handle to the hashing threads; they stop when the last clone is
/// dropped.
#[derive(Clone)]
pub struct PasswordHasher {
    jobs: mpsc::Sender<HashJob>,
    /// Hashes queued or running.
    pending: Arc<AtomicUsize>,
    max_pending: usize,
}

fn argon2() -> Argon2<'static> {
    let params =
        Params::new(MEMORY_KIB, PASSES, LANES, None).expect("static argon2 parameters are valid");
    Argon2::new(Algorithm::Argon2id, Version::V0x13, params)
}

impl PasswordHasher {
    /// Starts `threads` hashing threads.
    pub fn new(threads: usize) -> Self {
        let (jobs, queue) = mpsc::channel::<HashJob>();
        let queue = Arc::new(Mutex::new(queue));
        for i in 0..threads.max(1) {
            let queue = queue.clone();
            let started = std::thread::Builder::new()
                .name(format!("password-hash-{i}"))
                .spawn(move || loop {
                    let job = queue.lock().unwrap_or_else(|e| e.into_inner()).recv();
                    match job {
                        Ok(job) => job(),
                        Err(_) => return,
                    }
                });
            if let Err(e) = started {
                tracing::error!(error = %e, "could not start a password hashing thread");
            }
        }
        Self {
            jobs,
            pending: Arc::new(AtomicUsize::new(0)),
            max_pending: threads.max(1) * (QUEUED_PER_THREAD + 1),
        }
    }

    pub async fn hash(&self, password: &str) -> Result<String, DomainError> {
        let password = password.to_owned();
        self.run(move || {
            let salt = SaltString::generate(&mut OsRng);
            argon2()
                .hash_password(password.as_bytes(), &salt)
                .map(|h| h.to_string())
                .map_err(|e| DomainError::Internal(format!("hashing failed: {e}")))
        })
        .await
    }

    /// Whether `password` matches `hash`. A malformed stored hash is a
    /// mismatch, never an error the caller could tell apart.
    pub async fn verify(&self, password: &str, hash: &str) -> Result<bool, DomainError> {
        let (password, hash) = (password.to_owned(), hash.to_owned());
        self.run(move || {
            Ok(PasswordHash::new(&hash)
                .map(|parsed| {
                    argon2()
                        .verify_password(password.as_bytes(), &parsed)
                        .is_ok()
                })
                .unwrap_or(false))
        })
        .await
    }

    async fn run<T: Send + 'static>(
        &self,
        work: impl FnOnce() -> Result<T, DomainError> + Send + 'static,
    ) -> Result<T, DomainError> {
        if self.pending.fetch_add(1, Ordering::SeqCst) >= self.max_pending {
            self.pending.fetch_sub(1, Ordering::SeqCst);
            return Err(DomainError::Busy {
                retry_after_secs: 1,
            });
        }
        let (done, answer) = tokio::sync::oneshot::channel();
        let pending = self.pending.clone();
        self.jobs
            .send(Box::new(move || {
                let outcome = work();
                pending.fetch_sub(1, Ordering::SeqCst);
                let _ = done.send(outcome);
            }))
            .map_err(|_| DomainError::Internal("the password hashing threads stopped".into()))?;
        answer
            .await
            .map_err(|_| DomainError::Internal("a password hashing thread failed".into()))?
    }
}

static COMMON_PASSWORDS: LazyLock<HashSet<&'static str>> =
    LazyLock::new(|| include_str!("common_passwords.txt").lines().collect());

/// Whether `password` is one of the most common passwords, whatever its
/// case: the first ones an attacker tries.
pub fn is_common(password: &str) -> bool {
    COMMON_PASSWORDS.contains(password.to_lowercase().as_str())
}

/// Rules for a new password (ASVS 6.2): long enough, not absurdly long,
/// and not on the list of common passwords.
/// `field` names the input the password came in, for the error.
pub fn check_strength(field: &'static str, password: &str) -> Result<(), DomainError> {
    if password.chars().count() < MIN_PASSWORD_LEN {
        return Err(DomainError::invalid(
            field,
            format!("must be at least {MIN_PASSWORD_LEN} characters"),
        ));
    }
    if password.len() > MAX_PASSWORD_LEN {
        return Err(DomainError::invalid(field, "is too long"));
    }
    if is_common(password) {
        return Err(DomainError::invalid(
            field,
            "is one of the most common passwords; choose another",
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_hash_verifies_its_password_only() {
        let hasher = PasswordHasher::new(1);
        let hash = hasher.hash("correct horse battery").await.unwrap();
        assert!(hash.starts_with("$argon2id$v=19$m=19456,t=2,p=1$"));
        assert!(hasher.verify("correct horse battery", &hash).await.unwrap());
        assert!(!hasher.verify("wrong horse battery", &hash).await.unwrap());
        assert!(!hasher.verify("anything", "not a hash").await.unwrap());
    }

    #[tokio::test]
    async fn hashes_beyond_the_queue_are_refused_as_busy_and_the_rest_complete() {
        let hasher = PasswordHasher::new(1);
        let attempts = QUEUED_PER_THREAD + 10;
        let outcomes = futures_util::future::join_all(
            (0..attempts).map(|_| hasher.hash("correct horse battery")),
        )
        .await;
        let busy = outcomes
            .iter()
            .filter(|o| matches!(o, Err(DomainError::Busy { .. })))
            .count();
        let hashed = outcomes.iter().filter(|o| o.is_ok()).count();
        assert_eq!(hashed, QUEUED_PER_THREAD + 1);
        assert_eq!(busy, attempts - hashed);
        assert!(
            hasher
                .verify("correct horse battery", outcomes[0].as_ref().unwrap())
                .await
                .unwrap(),
            "the queue is free again"
        );
    }

    #[test]
    fn short_passwords_are_refused() {
        assert!(check_strength("password", "short").is_err());
        assert!(check_strength("password", "long enough pass").is_ok());
    }

    #[test]
    fn common_passwords_are_refused_whatever_their_case() {
        for common in ["password123", "Password123", "QWERTYUIOP", "1q2w3e4r5t"] {
            assert!(is_common(common), "{common}");
            assert!(check_strength("password", common).is_err(), "{common}");
        }
        assert!(!is_common("correct horse battery"));
        assert!(COMMON_PASSWORDS.len() > 8000, "the list is loaded whole");
    }
}
