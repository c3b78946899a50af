//! The one rule for a test whose setup needs more than a developer's machine may allow (a
//! mount, a device): skip it, saying why, on a developer's machine; under `CI=true` fail, so CI
//! never counts a skipped test as passed. [`crate::faultkit::disk::Tmpfs`] and
//! [`crate::powerfs::PowerFs`] both use it.

/// `Some(value)` when the setup worked; `None` (after printing why the test skips) when it
/// failed outside CI. Panics when it failed under `CI=true` (or `CI=1`).
pub fn or_skip<T>(setup: anyhow::Result<T>) -> Option<T> {
    match setup {
        Ok(value) => Some(value),
        Err(e) if under_ci() => panic!("CI=true and this test's setup failed: {e:#}"),
        Err(e) => {
            eprintln!("skipped (not under CI=true): {e:#}");
            None
        }
    }
}

/// Whether this process runs under CI (`CI=true` or `CI=1`).
pub fn under_ci() -> bool {
    std::env::var("CI").is_ok_and(|v| v == "true" || v == "1")
}
