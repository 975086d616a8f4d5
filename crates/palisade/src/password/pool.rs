//! Running hashes off the async runtime, a bounded number at a time.

use std::sync::Arc;

use tokio::sync::Semaphore;

use super::{HashError, PasswordHasher, Verdict};
use crate::validate::Password;

/// Runs [`PasswordHasher`] work on tokio's blocking threads, at most `max_concurrent` at
/// once. Argon2id allocates its whole memory cost per hash, so memory for hashing stays
/// within `m_cost × max_concurrent` however many logins arrive; the rest wait their turn
/// (queue in front of this with a timeout or a rate limit).
#[derive(Debug, Clone)]
pub struct HashPool {
    hasher: Arc<PasswordHasher>,
    permits: Arc<Semaphore>,
}

impl HashPool {
    /// A pool running at most `max_concurrent` (at least 1) hashes at a time.
    pub fn new(hasher: Arc<PasswordHasher>, max_concurrent: usize) -> Self {
        Self {
            hasher,
            permits: Arc::new(Semaphore::new(max_concurrent.max(1))),
        }
    }

    /// The hasher this pool runs.
    pub fn hasher(&self) -> &Arc<PasswordHasher> {
        &self.hasher
    }

    /// [`PasswordHasher::hash`], off the runtime.
    pub async fn hash(&self, password: Password) -> Result<String, HashError> {
        let hasher = self.hasher.clone();
        self.run(move || password.expose(|p| hasher.hash(p.as_bytes())))
            .await?
    }

    /// [`PasswordHasher::verify`], off the runtime.
    pub async fn verify(&self, password: Password, stored: String) -> Result<Verdict, HashError> {
        let hasher = self.hasher.clone();
        self.run(move || password.expose(|p| hasher.verify(p.as_bytes(), &stored)))
            .await?
    }

    /// [`PasswordHasher::dummy_verify`], off the runtime.
    pub async fn dummy_verify(&self, password: Password) {
        let hasher = self.hasher.clone();
        let _ = self
            .run(move || password.expose(|p| hasher.dummy_verify(p.as_bytes())))
            .await;
    }

    pub(crate) async fn run<R: Send + 'static>(
        &self,
        work: impl FnOnce() -> R + Send + 'static,
    ) -> Result<R, HashError> {
        let permit = self
            .permits
            .clone()
            .acquire_owned()
            .await
            .map_err(|_| HashError::Internal("hashing pool closed"))?;
        tokio::task::spawn_blocking(move || {
            let out = work();
            drop(permit);
            out
        })
        .await
        .map_err(|_| HashError::Internal("hashing task failed"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::password::PepperSet;
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::time::Duration;

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn never_more_than_the_bound_run_at_once() {
        let hasher = Arc::new(PasswordHasher::new(
            PepperSet::new(1, PepperSet::generate_key().unwrap()).unwrap(),
        ));
        let pool = HashPool::new(hasher, 3);
        let running = Arc::new(AtomicUsize::new(0));
        let peak = Arc::new(AtomicUsize::new(0));
        let tasks: Vec<_> = (0..24)
            .map(|_| {
                let (pool, running, peak) = (pool.clone(), running.clone(), peak.clone());
                tokio::spawn(async move {
                    pool.run(move || {
                        let now = running.fetch_add(1, Ordering::SeqCst) + 1;
                        peak.fetch_max(now, Ordering::SeqCst);
                        std::thread::sleep(Duration::from_millis(5));
                        running.fetch_sub(1, Ordering::SeqCst);
                    })
                    .await
                    .unwrap()
                })
            })
            .collect();
        for t in tasks {
            t.await.unwrap();
        }
        let peak = peak.load(Ordering::SeqCst);
        assert!(peak <= 3, "peak {peak}");
        assert!(
            peak >= 2,
            "the pool should run work in parallel, peak {peak}"
        );
    }

    #[tokio::test]
    async fn hash_and_verify_through_the_pool() {
        let hasher = Arc::new(PasswordHasher::new(
            PepperSet::new(1, PepperSet::generate_key().unwrap()).unwrap(),
        ));
        let pool = HashPool::new(hasher, 2);
        let stored = pool
            .hash(Password::parse("pool password 1".into()).unwrap())
            .await
            .unwrap();
        let ok = pool
            .verify(
                Password::parse("pool password 1".into()).unwrap(),
                stored.clone(),
            )
            .await
            .unwrap();
        assert!(ok.is_valid());
        let bad = pool
            .verify(Password::parse("pool password 2".into()).unwrap(), stored)
            .await
            .unwrap();
        assert_eq!(bad, Verdict::Invalid);
        pool.dummy_verify(Password::parse("whatever".into()).unwrap())
            .await;
    }
}
