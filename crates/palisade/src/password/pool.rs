//! Running hashes off the async runtime, a bounded number at a time.

use std::sync::mpsc;
use std::sync::{Arc, Mutex};

use super::{HashError, PasswordHasher, Verdict};
use crate::validate::Password;

type Job = Box<dyn FnOnce() + Send>;

/// Runs [`PasswordHasher`] work on its own `max_concurrent` threads, away from the async
/// runtime. Argon2id allocates its whole memory cost per hash, so hashing memory stays
/// within `m_cost × max_concurrent` however many logins arrive; the rest wait in a queue
/// (put a rate limit in front of it).
///
/// Dedicated threads rather than tokio's blocking pool: the blocking pool grows to hundreds
/// of threads, and the C allocator keeps a 19 MiB hash buffer cached per thread arena —
/// measured at 700 MB resident under a login flood, against ~40 MB with two workers.
#[derive(Clone)]
pub struct HashPool {
    hasher: Arc<PasswordHasher>,
    jobs: mpsc::Sender<Job>,
    workers: usize,
}

impl std::fmt::Debug for HashPool {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("HashPool")
            .field("hasher", &self.hasher)
            .field("workers", &self.workers)
            .finish()
    }
}

/// How much less CPU priority a hashing thread has than the thread that made the pool.
const HASHING_NICENESS: i32 = 5;

/// Puts this thread below the request threads: during a login flood the hashing fills every
/// core, and a health check or a signed-in page must still be answered at once. When there
/// is no flood the hashing threads still get every idle cycle, so a login is not slower.
fn lower_priority() {
    // On Linux the nice value is a thread's own (elsewhere it is the whole process's).
    // Refused (a sandbox that forbids it): the thread keeps the priority it had.
    #[cfg(target_os = "linux")]
    let _ = rustix::process::nice(HASHING_NICENESS);
}

impl HashPool {
    /// A pool of `max_concurrent` (at least 1) hashing threads. They stop when the last
    /// clone of the pool is dropped.
    pub fn new(hasher: Arc<PasswordHasher>, max_concurrent: usize) -> Self {
        let workers = max_concurrent.max(1);
        let (jobs, queue) = mpsc::channel::<Job>();
        let queue = Arc::new(Mutex::new(queue));
        for i in 0..workers {
            let queue = queue.clone();
            let spawned = std::thread::Builder::new()
                .name(format!("palisade-hash-{i}"))
                .spawn(move || {
                    lower_priority();
                    loop {
                        // Hold the lock only to take a job, not while running it.
                        let job = match queue.lock() {
                            Ok(q) => q.recv(),
                            Err(poisoned) => poisoned.into_inner().recv(),
                        };
                        match job {
                            Ok(job) => job(),
                            Err(_) => break,
                        }
                    }
                });
            if spawned.is_err() && i == 0 {
                // Without even one worker every job fails with `Internal`, never hangs.
                break;
            }
        }
        Self {
            hasher,
            jobs,
            workers,
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

    /// [`PasswordHasher::dummy_verify_legacy`], off the runtime.
    pub async fn dummy_verify_legacy(&self, password: Password, cost: u32) {
        let hasher = self.hasher.clone();
        let _ = self
            .run(move || password.expose(|p| hasher.dummy_verify_legacy(p.as_bytes(), cost)))
            .await;
    }

    pub(crate) async fn run<R: Send + 'static>(
        &self,
        work: impl FnOnce() -> R + Send + 'static,
    ) -> Result<R, HashError> {
        let (done, result) = tokio::sync::oneshot::channel();
        let job: Job = Box::new(move || {
            let _ = done.send(work());
        });
        self.jobs
            .send(job)
            .map_err(|_| HashError::Internal("hashing pool stopped"))?;
        result
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

    /// The flood defence: hashing runs below the threads that answer requests.
    #[cfg(target_os = "linux")]
    #[tokio::test]
    async fn hashing_threads_run_below_the_request_threads() {
        let hasher = Arc::new(PasswordHasher::new(
            PepperSet::new(1, PepperSet::generate_key().unwrap()).unwrap(),
        ));
        let pool = HashPool::new(hasher, 2);
        let mine = rustix::process::getpriority_process(None).unwrap();
        for _ in 0..4 {
            let theirs = pool
                .run(|| rustix::process::getpriority_process(None).unwrap())
                .await
                .unwrap();
            assert_eq!(theirs, (mine + HASHING_NICENESS).min(19));
        }
        assert_eq!(
            rustix::process::getpriority_process(None).unwrap(),
            mine,
            "only the hashing threads are lowered"
        );
    }

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
