//! Giving memory back to the operating system.

/// Returns the allocator's wholly free pages to the system. glibc's malloc
/// keeps freed chunks for reuse and releases only the top of each heap, so
/// after a large structure is dropped (a rebuilt state replacing the one
/// built a write at a time) the resident set would stay at its peak.
/// Elsewhere this does nothing.
pub fn return_free_pages() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    // SAFETY: malloc_trim only walks the allocator's own free lists, under
    // its locks; it may be called from any thread at any time.
    unsafe {
        libc::malloc_trim(0);
    }
}
