//! The allocator setting `compact` makes first in `main` (`compact_api::memory`). A test
//! binary of its own, with this one test: the setting holds for the whole process, and
//! another test allocating at the same time would move the counter read here.
#![cfg(all(target_os = "linux", target_env = "gnu"))]
// mallinfo2 reads the allocator's statistics; it is an FFI call.
#![allow(unsafe_code)]

use compact_api::memory::{MMAP_THRESHOLD, chosen_by_operator, keep_large_blocks_out_of_heaps};

/// Bytes in blocks mapped from the system one by one (not in a heap).
fn mapped_bytes() -> usize {
    // SAFETY: mallinfo2 only reads glibc's counters.
    unsafe { libc::mallinfo2() }.hblkhd
}

#[test]
fn blocks_past_the_threshold_stay_mapped_after_a_larger_one_was_freed() {
    if chosen_by_operator() {
        return; // the environment decides, not the platform
    }
    keep_large_blocks_out_of_heaps();
    // What a sign-in does: argon2 writes a 19 MiB block and frees it. Left to itself,
    // glibc would now take blocks up to that size from a heap and keep them resident.
    drop(std::hint::black_box(vec![1u8; 19 << 20]));
    let before = mapped_bytes();
    let block = std::hint::black_box(vec![1u8; 2 * MMAP_THRESHOLD]);
    assert!(
        mapped_bytes() >= before + 2 * MMAP_THRESHOLD,
        "an {} MiB block came from a heap",
        (2 * MMAP_THRESHOLD) >> 20
    );
    drop(block);
}
