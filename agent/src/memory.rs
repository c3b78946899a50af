//! The agent's heap on glibc, for routers with little RAM: two malloc arenas instead of eight
//! per core (the runtime's few threads then share freed memory instead of each keeping its
//! own), and memory freed by a large job (a usage sync of every voucher, a long apply batch)
//! handed back to the kernel when it ends, not kept for the next peak.
//!
//! Measured with `bench-vouchers` (agent RSS during and after 10,000 vouchers): see the issue's
//! closing note. Elsewhere (musl, other systems) both are no-ops.

/// Call once at start, before the runtime's threads exist.
pub fn limit_arenas() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    // SAFETY: mallopt only sets a tunable of the allocator; no memory is touched.
    unsafe {
        libc::mallopt(libc::M_ARENA_MAX, 2);
    }
}

/// Returns the free pages of the heap to the kernel.
pub fn give_back() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    // SAFETY: malloc_trim releases only memory the allocator holds free.
    unsafe {
        libc::malloc_trim(0);
    }
}
