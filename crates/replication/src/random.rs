//! Random numbers for identities and command ids. Normally the operating
//! system's; a deterministic simulation, which runs the whole cluster on one
//! thread, seeds this thread's source so that a failing seed replays
//! exactly (node ids, for one, decide who coordinates an early election).

use std::cell::RefCell;

use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

thread_local! {
    static SEEDED: RefCell<Option<StdRng>> = const { RefCell::new(None) };
}

/// From now on this thread draws from `seed`'s sequence.
pub fn seed_this_thread(seed: u64) {
    SEEDED.with(|s| *s.borrow_mut() = Some(StdRng::seed_from_u64(seed)));
}

/// Back to the operating system's randomness on this thread.
pub fn unseed_this_thread() {
    SEEDED.with(|s| *s.borrow_mut() = None);
}

/// Whether this thread draws from a seeded sequence (a simulation).
pub fn seeded() -> bool {
    SEEDED.with(|s| s.borrow().is_some())
}

pub fn u64() -> u64 {
    SEEDED.with(|s| match s.borrow_mut().as_mut() {
        Some(r) => r.gen(),
        None => rand::random(),
    })
}

pub fn u128() -> u128 {
    (u128::from(u64()) << 64) | u128::from(u64())
}

pub fn array<const N: usize>() -> [u8; N] {
    let mut out = [0u8; N];
    for chunk in out.chunks_mut(8) {
        let bytes = u64().to_le_bytes();
        chunk.copy_from_slice(&bytes[..chunk.len()]);
    }
    out
}
