//! The voucher record and its state machine, without storage.
//!
//! Every state change, from the API (queue, revoke) or from an agent's event (applied, failed,
//! removed, usage), goes through [`VoucherRecord::apply`], so the rules live in one pure
//! function that is unit-tested here: a voucher only moves forward. Late or redelivered news
//! (an `Applied` for a voucher already in use, a `Failed` after it was applied) leaves the
//! state alone and says so ([`Transition::Ignored`]) so the caller can audit it.
//!
//! The limits a voucher was created with are copied into it at issue time: a package edited
//! later does not change what a sold voucher allows, and usage can be checked against them
//! without reading the package.

use hotspot_pki::SiteId;
use hotspot_shared::domain::voucher::router_comment;
use hotspot_shared::domain::{
    Money, Origin, Package, PackageId, RemovalReason, RouterId, StaffId, UsageSample, VoucherState,
    VoucherUser,
};
use hotspot_shared::units::RosDuration;
use serde::{Deserialize, Serialize};

use super::codec::Record;

/// Longest voucher code the ledger accepts (prefix plus random part, with room).
pub const MAX_CODE_LEN: usize = 64;
/// Whether `code` can be a voucher code in the ledger: 1 to [`MAX_CODE_LEN`] printable ASCII
/// characters (it is a hotspot user name and a key).
pub fn code_is_usable(code: &str) -> bool {
    !code.is_empty() && code.len() <= MAX_CODE_LEN && code.bytes().all(|b| b.is_ascii_graphic())
}

/// Most vouchers in one batch (the API's limit), one transaction.
pub const MAX_BATCH: usize = 10_000;

/// What the router enforces for this voucher (copied from its package at issue).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct VoucherLimits {
    pub uptime_secs: Option<u64>,
    pub bytes_total: Option<u64>,
    /// Wall-clock validity after the first login.
    pub validity_secs: Option<u64>,
}

impl VoucherLimits {
    pub fn of(package: &Package) -> Self {
        VoucherLimits {
            uptime_secs: package.time_limit.map(|d| d.as_secs()),
            bytes_total: package.data_limit,
            validity_secs: package.validity.map(|d| d.as_secs()),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct VoucherRecord {
    /// Unique across the fleet; the hotspot user name.
    pub code: String,
    pub password: String,
    pub package: PackageId,
    pub package_name: String,
    pub router: RouterId,
    pub site: SiteId,
    pub staff: StaffId,
    pub price: Money,
    pub origin: Origin,
    pub state: VoucherState,
    /// Why it failed or was revoked.
    pub reason: Option<String>,
    pub issued_at: i64,
    pub applied_at: Option<i64>,
    pub first_login_at: Option<i64>,
    pub expires_at: Option<i64>,
    pub uptime_secs: u64,
    pub bytes_in: u64,
    pub bytes_out: u64,
    pub updated_at: i64,
    pub limits: VoucherLimits,
}

impl Record for VoucherRecord {
    const KIND: &'static str = "voucher";
}

/// A change to one voucher.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum VoucherChange {
    /// Handed to the site's outbox.
    Queued,
    /// The agent created it on the router (or found it identical).
    Applied,
    /// The router refused it.
    Failed { reason: String, conflict: bool },
    /// The agent removed its user from the router.
    Removed(RemovalReason),
    /// An admin revoked it (the removal from the router follows).
    Revoke { reason: Option<String> },
    /// Usage read from the router.
    Usage(UsageSample),
}

/// What [`VoucherRecord::apply`] did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Transition {
    /// The state moved (usage counters may have changed too).
    Moved {
        from: VoucherState,
        to: VoucherState,
    },
    /// Same state, other fields updated (usage, reason).
    Updated,
    /// Nothing to do: already there.
    Unchanged,
    /// The change does not apply in this state (late or out-of-order news); nothing changed.
    Ignored(VoucherState),
}

/// A voucher change and what it did, with the record after it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChangeOutcome {
    pub record: VoucherRecord,
    pub transition: Transition,
}

impl Transition {
    pub fn changed(self) -> bool {
        matches!(self, Transition::Moved { .. } | Transition::Updated)
    }
}

use VoucherState as S;

impl VoucherRecord {
    /// A voucher of `package` sold at `at` on `router` of `site`: `issued`, nothing used yet,
    /// with the package's price and limits as they are now.
    pub fn new_sale(
        package: &Package,
        (code, password): (String, String),
        (router, site): (RouterId, SiteId),
        staff: StaffId,
        origin: Origin,
        at: i64,
    ) -> VoucherRecord {
        VoucherRecord {
            code,
            password,
            package: package.id,
            package_name: package.name.clone(),
            router,
            site,
            staff,
            price: package.price,
            origin,
            state: VoucherState::Issued,
            reason: None,
            issued_at: at,
            applied_at: None,
            first_login_at: None,
            expires_at: None,
            uptime_secs: 0,
            bytes_in: 0,
            bytes_out: 0,
            updated_at: at,
            limits: VoucherLimits::of(package),
        }
    }

    /// The hotspot user this voucher becomes on its router (`profile` from its package), with
    /// the limits it was sold with. Generating and re-queueing both build it here: the agent
    /// compares an existing user field by field, so every path must produce the same one.
    pub fn router_user(&self, profile: &str) -> VoucherUser {
        VoucherUser {
            code: self.code.clone(),
            password: self.password.clone(),
            profile: profile.to_owned(),
            limit_uptime: self.limits.uptime_secs.map(RosDuration::from_secs),
            limit_bytes_total: self.limits.bytes_total,
            validity: self.limits.validity_secs.map(RosDuration::from_secs),
            comment: router_comment(self.package, self.origin),
        }
    }

    /// Applies `change` observed at `at`, moving only forward.
    pub fn apply(&mut self, change: &VoucherChange, at: i64) -> Transition {
        let from = self.state;
        let result = match change {
            VoucherChange::Queued => match from {
                S::Issued | S::Failed => self.go(S::Queued, None),
                S::Queued => Transition::Unchanged,
                _ => Transition::Ignored(from),
            },
            VoucherChange::Applied => match from {
                S::Issued | S::Queued | S::Failed => {
                    self.applied_at = Some(at);
                    self.go(S::Active, None)
                }
                S::Active => Transition::Unchanged,
                _ => Transition::Ignored(from),
            },
            VoucherChange::Failed { reason, conflict } => {
                let reason = if *conflict {
                    format!(
                        "conflict: a different user of that name exists on the router: {reason}"
                    )
                } else {
                    reason.clone()
                };
                match from {
                    S::Issued | S::Queued => self.go(S::Failed, Some(reason)),
                    S::Failed if self.reason.as_deref() == Some(&reason) => Transition::Unchanged,
                    S::Failed => {
                        self.reason = Some(reason);
                        Transition::Updated
                    }
                    _ => Transition::Ignored(from),
                }
            }
            VoucherChange::Removed(RemovalReason::Expired) => match from {
                S::Expired => Transition::Unchanged,
                S::Removed | S::Revoked => Transition::Ignored(from),
                _ => self.go(S::Expired, None),
            },
            VoucherChange::Removed(RemovalReason::Revoked) | VoucherChange::Revoke { .. } => {
                match from {
                    S::Revoked => Transition::Unchanged,
                    S::Expired | S::Removed => Transition::Ignored(from),
                    _ => {
                        let reason = match change {
                            VoucherChange::Revoke { reason } => reason.clone(),
                            _ => None,
                        };
                        self.go(S::Revoked, reason)
                    }
                }
            }
            VoucherChange::Usage(sample) => self.usage(sample, at),
        };
        if result.changed() {
            self.updated_at = at;
        }
        result
    }

    fn go(&mut self, to: VoucherState, reason: Option<String>) -> Transition {
        let from = self.state;
        self.state = to;
        self.reason = reason;
        Transition::Moved { from, to }
    }

    /// Counters only grow (a router reset must not erase what was used); the first sign of use
    /// moves the voucher to in use and starts its validity; reaching a limit exhausts it.
    fn usage(&mut self, s: &UsageSample, at: i64) -> Transition {
        let before = (self.uptime_secs, self.bytes_in, self.bytes_out);
        self.uptime_secs = self.uptime_secs.max(s.uptime_secs);
        self.bytes_in = self.bytes_in.max(s.bytes_in);
        self.bytes_out = self.bytes_out.max(s.bytes_out);
        let counters_moved = before != (self.uptime_secs, self.bytes_in, self.bytes_out);
        let used = s.online || self.uptime_secs > 0 || self.bytes_in + self.bytes_out > 0;
        let from = self.state;
        let mut to = from;
        if used && matches!(from, S::Issued | S::Queued | S::Active | S::Failed) {
            to = S::InUse;
            if self.first_login_at.is_none() {
                self.first_login_at = Some(at);
                self.expires_at = self
                    .limits
                    .validity_secs
                    .map(|v| at.saturating_add(i64::try_from(v).unwrap_or(i64::MAX)));
            }
        }
        if matches!(to, S::InUse) && self.limits_reached() {
            to = S::Exhausted;
        }
        if to != from {
            self.go(to, None)
        } else if counters_moved {
            Transition::Updated
        } else {
            Transition::Unchanged
        }
    }

    fn limits_reached(&self) -> bool {
        let time = self
            .limits
            .uptime_secs
            .is_some_and(|l| self.uptime_secs >= l);
        let data = self
            .limits
            .bytes_total
            .is_some_and(|l| self.bytes_in.saturating_add(self.bytes_out) >= l);
        time || data
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use hotspot_shared::domain::Currency;

    fn voucher(state: VoucherState) -> VoucherRecord {
        VoucherRecord {
            code: "ABCDEFGH".into(),
            password: "ABCDEFGH".into(),
            package: PackageId(1),
            package_name: "1 hour".into(),
            router: RouterId(1),
            site: SiteId::new("s1").unwrap(),
            staff: StaffId(1),
            price: Money::new(100, Currency::new("USD").unwrap()),
            origin: Origin::Central,
            state,
            reason: None,
            issued_at: 10,
            applied_at: None,
            first_login_at: None,
            expires_at: None,
            uptime_secs: 0,
            bytes_in: 0,
            bytes_out: 0,
            updated_at: 10,
            limits: VoucherLimits {
                uptime_secs: Some(3600),
                bytes_total: Some(1000),
                validity_secs: Some(86_400),
            },
        }
    }

    fn sample(uptime: u64, bytes: u64) -> VoucherChange {
        VoucherChange::Usage(UsageSample {
            code: "ABCDEFGH".into(),
            uptime_secs: uptime,
            bytes_in: bytes,
            bytes_out: 0,
            online: false,
        })
    }

    #[test]
    fn applied_only_moves_forward() {
        for from in [S::Issued, S::Queued, S::Failed] {
            let mut v = voucher(from);
            let t = v.apply(&VoucherChange::Applied, 20);
            assert_eq!(
                t,
                Transition::Moved {
                    from,
                    to: S::Active
                }
            );
            assert_eq!((v.applied_at, v.updated_at, v.reason), (Some(20), 20, None));
        }
        let mut v = voucher(S::Active);
        assert_eq!(v.apply(&VoucherChange::Applied, 20), Transition::Unchanged);
        for from in [S::InUse, S::Exhausted, S::Expired, S::Removed, S::Revoked] {
            let mut v = voucher(from);
            let before = v.clone();
            assert_eq!(
                v.apply(&VoucherChange::Applied, 20),
                Transition::Ignored(from)
            );
            assert_eq!(v, before);
        }
    }

    #[test]
    fn failed_keeps_the_reason_and_notes_conflicts() {
        let mut v = voucher(S::Queued);
        let fail = |conflict| VoucherChange::Failed {
            reason: "already have user".into(),
            conflict,
        };
        assert!(matches!(v.apply(&fail(true), 20), Transition::Moved { .. }));
        assert_eq!(v.state, S::Failed);
        assert!(v.reason.as_deref().unwrap().starts_with("conflict:"));
        assert_eq!(v.apply(&fail(true), 21), Transition::Unchanged);
        assert_eq!(v.apply(&fail(false), 22), Transition::Updated);
        let mut v = voucher(S::InUse);
        assert_eq!(v.apply(&fail(false), 20), Transition::Ignored(S::InUse));
    }

    #[test]
    fn usage_starts_validity_and_exhausts() {
        let mut v = voucher(S::Active);
        assert_eq!(v.apply(&sample(0, 0), 50), Transition::Unchanged);
        let t = v.apply(&sample(60, 10), 100);
        assert_eq!(
            t,
            Transition::Moved {
                from: S::Active,
                to: S::InUse
            }
        );
        assert_eq!((v.first_login_at, v.expires_at), (Some(100), Some(86_500)));
        assert_eq!(v.apply(&sample(120, 20), 200), Transition::Updated);
        assert_eq!(v.first_login_at, Some(100), "first login is kept");
        // A router reset reports less: counters do not go back.
        assert_eq!(v.apply(&sample(5, 1), 300), Transition::Unchanged);
        assert_eq!(v.uptime_secs, 120);
        let t = v.apply(&sample(3600, 20), 400);
        assert_eq!(
            t,
            Transition::Moved {
                from: S::InUse,
                to: S::Exhausted
            }
        );
        let mut v = voucher(S::Active);
        v.apply(&sample(1, 1000), 10);
        assert_eq!(v.state, S::Exhausted, "data limit");
        let mut v = voucher(S::Revoked);
        assert_eq!(v.apply(&sample(10, 10), 10), Transition::Updated);
        assert_eq!(v.state, S::Revoked, "usage never revives a voucher");
    }

    #[test]
    fn removal_and_revocation() {
        let mut v = voucher(S::InUse);
        v.apply(&VoucherChange::Removed(RemovalReason::Expired), 10);
        assert_eq!(v.state, S::Expired);
        let revoke = VoucherChange::Revoke {
            reason: Some("refund".into()),
        };
        assert_eq!(v.apply(&revoke, 11), Transition::Ignored(S::Expired));
        let mut v = voucher(S::Active);
        v.apply(&revoke, 11);
        assert_eq!((v.state, v.reason.as_deref()), (S::Revoked, Some("refund")));
        let confirm = VoucherChange::Removed(RemovalReason::Revoked);
        assert_eq!(v.apply(&confirm, 12), Transition::Unchanged);
        assert_eq!(v.reason.as_deref(), Some("refund"));
        let mut v = voucher(S::Issued);
        assert!(v.apply(&VoucherChange::Queued, 1).changed());
        assert_eq!(v.apply(&VoucherChange::Queued, 1), Transition::Unchanged);
    }
}
