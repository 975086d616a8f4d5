//! Secrets are gone from memory once dropped.
//!
//! This test binary installs a global allocator that, while armed, looks inside every block
//! *before* it is freed and records whether a marker pattern is still there. Reading memory
//! we still own is sound; this is the only `unsafe` in the project, confined to the test
//! crate because implementing `GlobalAlloc` requires it.

#![allow(unsafe_code)] // GlobalAlloc only; see the module docs.

use std::alloc::{GlobalAlloc, Layout, System};
use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};

use palisade::secret::{FernetKey, Keyring, SecretBytes, SecretString};
use palisade::validate::Password;

const MARKER: &[u8] = b"PALISADE-PLAINTEXT-MARKER-7f3a9c";

static ARMED: AtomicBool = AtomicBool::new(false);
static LEAKS: AtomicUsize = AtomicUsize::new(0);
/// Tests share the allocator's counters: run them one at a time.
static SERIAL: Mutex<()> = Mutex::new(());

struct Inspecting;

// SAFETY: delegates every call to `System` unchanged; `dealloc` additionally reads the
// block it is about to free, which is still allocated and `layout.size()` bytes long.

unsafe impl GlobalAlloc for Inspecting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        unsafe { System.alloc(layout) }
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        if ARMED.load(Ordering::Relaxed) && layout.size() >= MARKER.len() {
            let block = unsafe { std::slice::from_raw_parts(ptr, layout.size()) };
            if block.windows(MARKER.len()).any(|w| w == MARKER) {
                LEAKS.fetch_add(1, Ordering::Relaxed);
            }
        }
        unsafe { System.dealloc(ptr, layout) }
    }
}

#[global_allocator]
static GLOBAL: Inspecting = Inspecting;

/// Runs `f` with the allocator armed and returns how many freed blocks held the marker.
fn freed_blocks_holding_marker(f: impl FnOnce()) -> usize {
    let _guard = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    LEAKS.store(0, Ordering::SeqCst);
    ARMED.store(true, Ordering::SeqCst);
    f();
    ARMED.store(false, Ordering::SeqCst);
    LEAKS.load(Ordering::SeqCst)
}

#[test]
fn the_inspector_sees_a_plain_vec() {
    // Control: without zeroization the marker is found, so the other tests can fail.
    let leaks = freed_blocks_holding_marker(|| drop(std::hint::black_box(MARKER.to_vec())));
    assert_eq!(leaks, 1);
}

#[test]
fn secret_bytes_are_overwritten_on_drop() {
    let leaks = freed_blocks_holding_marker(|| {
        let secret = SecretBytes::new(MARKER.to_vec());
        secret.expose(|b| assert_eq!(b, MARKER));
        drop(secret);
    });
    assert_eq!(leaks, 0);
}

#[test]
fn secret_string_and_password_are_overwritten_on_drop() {
    let text = std::str::from_utf8(MARKER).unwrap();
    let leaks = freed_blocks_holding_marker(|| {
        // Built with spare capacity: the shrink to exact size must not leave a copy.
        let mut s = String::with_capacity(200);
        s.push_str(text);
        drop(SecretString::new(s));
        drop(Password::parse(text.to_owned()).unwrap());
    });
    assert_eq!(leaks, 0);
}

#[test]
fn fernet_plaintext_never_reaches_freed_memory_unzeroized() {
    let ring = Keyring::new(vec![FernetKey::generate().unwrap()]).unwrap();
    let token = ring.encrypt(MARKER).unwrap();
    let leaks = freed_blocks_holding_marker(|| {
        drop(ring.encrypt(MARKER).unwrap());
        let out = ring.decrypt(&token, None).unwrap();
        out.plaintext.expose(|p| assert_eq!(p, MARKER));
        drop(out);
        // Rotation decrypts too.
        let rotated = ring.rotate(&token).unwrap();
        drop(rotated);
    });
    assert_eq!(leaks, 0);
}
