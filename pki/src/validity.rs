//! Certificate times: what the CA ([`crate::ca`]) and the leaf issuer ([`crate::issue`]) both
//! put into `notBefore` / `notAfter`.
//!
//! Why a module of its own: both signers need the same two rules, and neither should have to
//! read the other to find them. X.509 times have whole seconds, so a time is cut to the second
//! before it is used (what we report must equal what the certificate says); and certificates
//! that agents check with their own, possibly lagging clocks start an hour early.

use time::{Duration, OffsetDateTime, UtcOffset};

/// How far CA and controller certificates are backdated: agents check them
/// with their own clocks, which may lag the controller's.
pub const BACKDATE: Duration = Duration::hours(1);

/// `t` in UTC with the sub-second part dropped: X.509 times have whole
/// seconds, and what we report must equal what the certificate says.
pub(crate) fn whole_seconds_utc(t: OffsetDateTime) -> OffsetDateTime {
    let t = t.to_offset(UtcOffset::UTC);
    t - Duration::nanoseconds(i64::from(t.nanosecond()))
}

/// The `notBefore` of a certificate issued at `now` that others check with their own clocks.
pub(crate) fn backdated(now: OffsetDateTime) -> OffsetDateTime {
    now - BACKDATE
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn whole_seconds_drops_fraction_and_offset() {
        let t = time::macros::datetime!(2026-03-01 12:00:00.75 +02:00);
        assert_eq!(
            whole_seconds_utc(t),
            time::macros::datetime!(2026-03-01 10:00:00 UTC)
        );
    }

    #[test]
    fn backdated_is_an_hour_early() {
        let t = time::macros::datetime!(2026-03-01 10:00:00 UTC);
        assert_eq!(
            backdated(t),
            time::macros::datetime!(2026-03-01 09:00:00 UTC)
        );
    }
}
