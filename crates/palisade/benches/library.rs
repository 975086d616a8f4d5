//! `cargo bench -p palisade --bench library`: hashing, Fernet and policy medians.

use std::hint::black_box;

use criterion::{Criterion, criterion_group, criterion_main};
use palisade::password::{Algorithm, PasswordHasher, PasswordPolicy, PepperSet};
use palisade::secret::{FernetKey, Keyring, SecretBytes};
use palisade::validate::Password;

fn hashing(c: &mut Criterion) {
    let peppers = || PepperSet::new(1, SecretBytes::new(vec![3; 32])).unwrap();
    let argon2 = PasswordHasher::new(peppers());
    let bcrypt = PasswordHasher::new(peppers())
        .with_algorithm(Algorithm::Bcrypt { cost: 12 })
        .unwrap();
    let password = b"correct horse battery staple";
    let mut group = c.benchmark_group("password");
    group.sample_size(20);
    for (name, hasher) in [
        ("argon2id_m19456_t2_p1", &argon2),
        ("bcrypt_cost12", &bcrypt),
    ] {
        let stored = hasher.hash(password).unwrap();
        group.bench_function(format!("{name}/hash"), |b| {
            b.iter(|| hasher.hash(black_box(password)).unwrap())
        });
        group.bench_function(format!("{name}/verify"), |b| {
            b.iter(|| {
                hasher
                    .verify(black_box(password), black_box(&stored))
                    .unwrap()
            })
        });
        group.bench_function(format!("{name}/dummy_verify"), |b| {
            b.iter(|| hasher.dummy_verify(black_box(password)))
        });
    }
    group.finish();
}

fn fernet(c: &mut Criterion) {
    let ring = Keyring::new(vec![FernetKey::generate().unwrap()]).unwrap();
    let data = vec![0x5a_u8; 1024];
    let token = ring.encrypt(&data).unwrap();
    c.bench_function("fernet/encrypt_1KiB", |b| {
        b.iter(|| ring.encrypt(black_box(&data)).unwrap())
    });
    c.bench_function("fernet/decrypt_1KiB", |b| {
        b.iter(|| ring.decrypt(black_box(&token), None).unwrap())
    });
}

fn policy(c: &mut Criterion) {
    let policy = PasswordPolicy::new().with_length(12, 1000).unwrap();
    let mut state = 7u32;
    let mut random = |n: usize| -> String {
        (0..n)
            .map(|_| {
                state = state.wrapping_mul(1_103_515_245).wrapping_add(12_345);
                char::from(b'!' + ((state >> 16) % 94) as u8)
            })
            .collect()
    };
    for n in [64, 1000] {
        let password = Password::parse(random(n)).unwrap();
        c.bench_function(&format!("policy/check_{n}_chars"), |b| {
            b.iter(|| policy.check(black_box(&password), &[]))
        });
    }
}

criterion_group!(benches, hashing, fernet, policy);
criterion_main!(benches);
