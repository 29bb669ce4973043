//! How the process allocates memory: one setting of glibc's allocator, made at start-up, and
//! giving its free pages back after the start-up load of the search count index.

/// Blocks of at least this size are mapped from the system one by one and given back
/// when freed. glibc's own threshold starts at 128 KiB and rises to the size of the
/// largest mapped block freed so far, up to 32 MiB. After one sign-in (argon2's 19 MiB
/// blocks) or one search of a frequent word (FTS5 reads its doclist into one buffer),
/// blocks of that size come from the heaps instead, and stay resident there after use, in
/// each thread's heap (glibc keeps up to 8 per core). Fixed at 4 MiB, a million-item
/// SQLite server's peak over searches, GETs, the feed, sign-ins and POSTs fell from
/// 323–346 to 257–297 MB, with no figure slower beyond noise (bench/README.md, 2026-11-30).
pub const MMAP_THRESHOLD: usize = 4 << 20;

#[cfg(all(target_os = "linux", target_env = "gnu"))]
const _: () = assert!(MMAP_THRESHOLD <= libc::c_int::MAX as usize);

/// Whether the operator set the threshold, the old way or through glibc's tunables.
pub fn chosen_by_operator() -> bool {
    std::env::var_os("MALLOC_MMAP_THRESHOLD_").is_some()
        || std::env::var("GLIBC_TUNABLES")
            .is_ok_and(|tunables| tunables.contains("glibc.malloc.mmap_threshold"))
}

/// Fixes glibc's mmap threshold at [`MMAP_THRESHOLD`], unless the operator chose one
/// ([`chosen_by_operator`]). Call it first in `main`, before other threads start. Nothing
/// to do with another C library.
pub fn keep_large_blocks_out_of_heaps() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    if !chosen_by_operator() {
        // SAFETY: mallopt only sets a parameter of glibc's allocator, and is thread-safe.
        #[allow(unsafe_code)]
        unsafe {
            libc::mallopt(libc::M_MMAP_THRESHOLD, MMAP_THRESHOLD as libc::c_int);
        }
    }
}

/// Returns the free pages of glibc's heaps to the system. For after a one-time load that
/// allocated and freed much: loading the search count index reads a million rows in
/// chunks, and the freed chunks between the blocks kept stay resident otherwise.
pub fn give_back_free_heap() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    // SAFETY: malloc_trim only releases free pages of glibc's own heaps, and is thread-safe.
    #[allow(unsafe_code)]
    unsafe {
        libc::malloc_trim(0);
    }
}
