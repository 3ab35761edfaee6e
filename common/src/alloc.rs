//! Allocator settings for processes that move bulk data.
//!
//! Every data path here allocates buffers of 64 KiB to a few MiB (HTTP body
//! pieces, 1 MiB disk reads, 512 KiB upload pieces) and frees them a moment
//! later, on another thread. With glibc's defaults, such a buffer is either
//! `mmap`ed and `munmap`ed each time (above the mmap threshold, which starts
//! at 128 KiB) or handed back to the kernel when the top of the heap is
//! trimmed, so the next one is faulted in and zeroed page by page again: on
//! the 2-core machine of `docs/BENCHMARKS.md`, page faults and page clearing
//! were 10 % of all CPU time during a `dfs get`. Keeping buffers up to 16 MiB
//! in the heap and trimming only past 128 MiB of free memory at its top
//! makes them reusable; memory still goes back to the kernel after a peak,
//! and a process's resident size stays bounded by what it actually uses at
//! once (the buffers are bounded on every path).
//!
//! Other allocators (musl, a global allocator) are left as they are.

/// Buffers up to this size come from the heap, not from their own mapping.
pub const MMAP_THRESHOLD: usize = 16 << 20;
/// Free memory at the top of a heap is returned to the kernel past this.
pub const TRIM_THRESHOLD: usize = 128 << 20;

/// Applies the settings above to this process's allocator; returns whether
/// it took them. Call once, first thing in `main`.
pub fn tune_for_bulk_data() -> bool {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    {
        // SAFETY: mallopt only changes glibc's malloc parameters; it is
        // thread-safe and touches no memory of ours. It returns 1 on success.
        let mmap = unsafe { libc::mallopt(libc::M_MMAP_THRESHOLD, MMAP_THRESHOLD as libc::c_int) };
        // SAFETY: as above.
        let trim = unsafe { libc::mallopt(libc::M_TRIM_THRESHOLD, TRIM_THRESHOLD as libc::c_int) };
        mmap == 1 && trim == 1
    }
    #[cfg(not(all(target_os = "linux", target_env = "gnu")))]
    {
        false
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    fn glibc_takes_the_settings() {
        assert!(tune_for_bulk_data());
    }
}
