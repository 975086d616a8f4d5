//! The benchmark baseline for login floods: how many password verifications per second
//! this machine does with the service's default parameters and hashing threads, and
//! nothing else running. Run at the same time as nothing else; `bench/service.sh` runs it.
//! `cargo run --release -p palisade-service --example hash_rate -- SECONDS`

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use palisade::password::{Algorithm, Argon2Params, PasswordHasher, PepperSet};

fn main() {
    let seconds: u64 = std::env::args()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(5);
    let config = palisade_service::Config::default();
    let pepper = PepperSet::generate_key().expect("randomness");
    let hasher = PasswordHasher::new(PepperSet::new(1, pepper).expect("pepper"))
        .with_algorithm(Algorithm::Argon2id(Argon2Params {
            m_kib: config.argon2_memory_kib,
            t: config.argon2_iterations,
            p: config.argon2_parallelism,
        }))
        .expect("the default parameters");
    let hasher = Arc::new(hasher);
    // The first call makes the hash the others verify against.
    hasher.dummy_verify(b"warm up");
    let done = Arc::new(AtomicU64::new(0));
    let until = Instant::now() + Duration::from_secs(seconds);
    let threads: Vec<_> = (0..config.hash_concurrency)
        .map(|_| {
            let (hasher, done) = (hasher.clone(), done.clone());
            std::thread::spawn(move || {
                while Instant::now() < until {
                    hasher.dummy_verify(b"a wrong password");
                    done.fetch_add(1, Ordering::Relaxed);
                }
            })
        })
        .collect();
    for t in threads {
        t.join().expect("a hashing thread");
    }
    let rate = done.load(Ordering::Relaxed) as f64 / seconds as f64;
    println!("{rate:.1} {}", config.hash_concurrency);
}
