//! The ledger side of the fleet link: agents' events applied exactly once.
//!
//! The link runs [`Inbound::apply`] inside one write transaction with its "seen seq N" record,
//! so each event and its sequence number commit together; the link waits for a durability
//! barrier before it acknowledges. Hence the rules here:
//! - writes go only through the given transaction (an `Err` anywhere in the link's batch rolls
//!   them back with the sequence record, and the link may apply the same event again);
//! - the site is the certificate's ([`PeerId`]), never a field of the message: an event about
//!   a router of another site is ignored and audited;
//! - an event that cannot be applied (unknown code, code collision, stale news) is recorded in
//!   the audit log and *accepted*, so one odd message cannot wedge a site's stream; only a
//!   storage failure refuses it (the link then closes and the agent redelivers).

use std::sync::Arc;

use hotspot_link::{ApplyError, Inbound, PeerId};
use hotspot_pki::SiteId;
use hotspot_shared::domain::RouterId;
use hotspot_shared::fleet::msg::{Event, SiteVoucher};
use hotspot_storage::WriteTx;

use super::layout::{T, id_key};
use super::tx::Tx;
use super::writes::{add, change, observe};
use crate::store::Decisions;
use crate::store::error::StoreError;
use crate::store::records::{Actor, PackageRecord, RouterObservation, RouterRecord, Site, Stamp};
use crate::store::voucher::{
    Transition, VoucherChange, VoucherLimits, VoucherRecord, code_is_usable,
};

/// Where "now" comes from (Unix seconds); injected so tests need no sleeping.
pub type Clock = Arc<dyn Fn() -> i64 + Send + Sync>;

/// Applies [`Event`]s from agents to the ledger.
#[derive(Clone)]
pub struct LedgerInbound {
    db: hotspot_storage::Db,
    /// The oldest issue time of site sales applied since the report refresher last looked.
    late_site_sales: Arc<std::sync::atomic::AtomicI64>,
    decisions: Decisions,
    clock: Clock,
}

fn system_clock() -> i64 {
    time::OffsetDateTime::now_utc().unix_timestamp()
}

impl LedgerInbound {
    pub(super) fn new(
        db: hotspot_storage::Db,
        late_site_sales: Arc<std::sync::atomic::AtomicI64>,
        decisions: Decisions,
    ) -> Self {
        LedgerInbound {
            db,
            late_site_sales,
            decisions,
            clock: Arc::new(system_clock),
        }
    }

    pub fn with_clock(mut self, clock: Clock) -> Self {
        self.clock = clock;
        self
    }

    /// Applies `event` from `peer` in a transaction of its own: the same code the link runs,
    /// for tests and tools that have no link transaction.
    pub fn apply_direct(&self, peer: &PeerId, event: &Event) -> Result<(), StoreError> {
        let applied = self
            .db
            .write(|w| self.apply_in(&mut Tx::new(w), peer, event));
        Decisions::discard();
        applied
    }

    fn apply_in(
        &self,
        tx: &mut Tx<'_, '_>,
        peer: &PeerId,
        event: &Event,
    ) -> Result<(), StoreError> {
        let now = (self.clock)();
        let Some(site) = peer.site() else {
            let stamp = Stamp::system(now);
            return tx.audit(&stamp.audit(
                "fleet.anomaly",
                peer,
                "event from a peer that is not a site",
            ));
        };
        let stamp = Stamp::new(Actor::Site(site.clone()), now);
        if let Event::Inventory {
            round,
            reason,
            vouchers,
            last,
        } = event
        {
            let late = super::heal::inventory(tx, &stamp, site, *round, reason, vouchers, *last)?;
            if let Some(t) = late {
                self.late_site_sales
                    .fetch_min(t, std::sync::atomic::Ordering::Relaxed);
            }
            return Ok(());
        }
        let router = router_of(event);
        let record = tx.get::<RouterRecord>(T::Routers, &id_key(router.0))?;
        let r = match record {
            Some(r) if r.site == *site => r,
            Some(r) => {
                let detail = format!("event about a router of site {}: {}", r.site, kind(event));
                return tx.audit(&stamp.audit("fleet.foreign-router", router, detail));
            }
            None => {
                let detail = format!("event about an unknown router: {}", kind(event));
                return tx.audit(&stamp.audit("fleet.unknown-router", router, detail));
            }
        };
        match event {
            Event::Applied { code, at, .. } => {
                voucher(tx, &stamp, router, code, &VoucherChange::Applied, *at)
            }
            Event::Failed {
                code,
                reason,
                conflict,
                at,
                ..
            } => {
                let failed = VoucherChange::Failed {
                    reason: reason.clone(),
                    conflict: *conflict,
                };
                voucher(tx, &stamp, router, code, &failed, *at)
            }
            Event::Removed {
                code, reason, at, ..
            } => voucher(
                tx,
                &stamp,
                router,
                code,
                &VoucherChange::Removed(*reason),
                *at,
            ),
            Event::IssuedAtSite(v) => {
                // A hint for the report refresher (a rolled-back transaction leaves it behind,
                // which costs one needless refresh).
                self.late_site_sales
                    .fetch_min(v.issued_at, std::sync::atomic::Ordering::Relaxed);
                issued_at_site(tx, &stamp, site, v)
            }
            Event::Usage { at, samples, .. } => {
                for s in samples {
                    voucher(
                        tx,
                        &stamp,
                        router,
                        &s.code,
                        &VoucherChange::Usage(s.clone()),
                        *at,
                    )?;
                }
                observe(tx, r, &RouterObservation::Synced, *at)
            }
            Event::Health { sample, .. } => {
                observe(tx, r, &RouterObservation::Health(sample.clone()), sample.at)
            }
            Event::Info { info, .. } => observe(tx, r, &RouterObservation::Info(info.clone()), now),
            Event::RouterDown { failure, at, .. } => {
                observe(tx, r, &RouterObservation::Down(failure.clone()), *at)
            }
            Event::Inventory { .. } => Ok(()),
            Event::Drift {
                at,
                unknown,
                restored,
                ..
            } => {
                let detail =
                    serde_json::json!({ "at": at, "unknown": unknown, "restored": restored });
                tx.audit(&stamp.audit("fleet.drift", router, detail.to_string()))
            }
        }
    }
}

impl Inbound<Event> for LedgerInbound {
    fn apply(
        &self,
        tx: &mut WriteTx<'_>,
        peer: &PeerId,
        _seq: u64,
        body: &Event,
    ) -> Result<(), ApplyError> {
        self.apply_in(&mut Tx::new(tx), peer, body)
            .map_err(|e| match e {
                StoreError::Storage(e) => ApplyError::Storage(e),
                e => ApplyError::Failed(e.to_string()),
            })
    }

    fn committed(&self) {
        self.decisions.publish();
    }
}

fn router_of(event: &Event) -> RouterId {
    match event {
        Event::Applied { router, .. }
        | Event::Failed { router, .. }
        | Event::Removed { router, .. }
        | Event::Usage { router, .. }
        | Event::Health { router, .. }
        | Event::Info { router, .. }
        | Event::Drift { router, .. }
        | Event::RouterDown { router, .. } => *router,
        Event::IssuedAtSite(v) => v.router,
        // Handled before any router is looked at (it names many).
        Event::Inventory { .. } => RouterId(0),
    }
}

fn kind(event: &Event) -> &'static str {
    match event {
        Event::Applied { .. } => "applied",
        Event::Failed { .. } => "failed",
        Event::Removed { .. } => "removed",
        Event::IssuedAtSite(_) => "issued-at-site",
        Event::Usage { .. } => "usage",
        Event::Health { .. } => "health",
        Event::Info { .. } => "info",
        Event::Drift { .. } => "drift",
        Event::RouterDown { .. } => "router-down",
        Event::Inventory { .. } => "inventory",
    }
}

/// A change to one voucher of `router`; moves are audited, usage updates are not.
fn voucher(
    tx: &mut Tx<'_, '_>,
    stamp: &Stamp,
    router: RouterId,
    code: &str,
    c: &VoucherChange,
    at: i64,
) -> Result<(), StoreError> {
    let audit = |tx: &mut Tx<'_, '_>, action: &str, detail: String| {
        tx.audit(&stamp.audit(action, code, detail))
    };
    match tx.get::<VoucherRecord>(T::Vouchers, code.as_bytes())? {
        None => return audit(tx, "fleet.unknown-voucher", format!("on {router}: {c:?}")),
        Some(v) if v.router != router => {
            return audit(
                tx,
                "fleet.anomaly",
                format!("reported on {router}, belongs to {}", v.router),
            );
        }
        Some(_) => {}
    }
    let Some(outcome) = change(tx, code, c, at)? else {
        return Ok(());
    };
    if matches!(outcome.transition, Transition::Moved { .. }) {
        Decisions::note(code);
    }
    match (outcome.transition, c) {
        (Transition::Moved { from, to }, _) => {
            let mut detail = format!("{} -> {}", from.as_str(), to.as_str());
            if let Some(reason) = &outcome.record.reason {
                detail = format!("{detail}: {reason}");
            }
            audit(tx, "voucher.state", detail)
        }
        // Usage that reaches the ledger after the revoke: the site was offline, the customer
        // went on using it until the revoke reached the router. Said once per update.
        (Transition::Updated, VoucherChange::Usage(s))
            if outcome.record.state == hotspot_shared::domain::VoucherState::Revoked =>
        {
            audit(
                tx,
                "voucher.used-after-revoke",
                format!(
                    "used while the revoke was on its way to {router}: uptime {} s, {} bytes",
                    s.uptime_secs,
                    s.bytes_in.saturating_add(s.bytes_out)
                ),
            )
        }
        (Transition::Ignored(state), VoucherChange::Failed { reason, .. }) => audit(
            tx,
            "fleet.stale-event",
            format!("failed while {}: {reason}", state.as_str()),
        ),
        _ => Ok(()),
    }
}

/// Records a voucher sold at the site with its original time, staff and price. The same code
/// again is a redelivery (no-op); a different voucher under that code is an anomaly, audited.
fn issued_at_site(
    tx: &mut Tx<'_, '_>,
    stamp: &Stamp,
    site: &SiteId,
    v: &SiteVoucher,
) -> Result<(), StoreError> {
    let audit = |tx: &mut Tx<'_, '_>, action: &str, detail: String| {
        tx.audit(&stamp.audit(action, &v.code, detail))
    };
    if !code_is_usable(&v.code) {
        return audit(
            tx,
            "fleet.anomaly",
            format!("site voucher with unusable code {:?}", v.code),
        );
    }
    if let Some(e) = tx.get::<VoucherRecord>(T::Vouchers, v.code.as_bytes())? {
        let same = e.site == *site
            && e.router == v.router
            && e.staff == v.staff
            && e.package == v.package
            && e.issued_at == v.issued_at
            && e.price == v.price
            && e.password == v.password;
        if same {
            return Ok(());
        }
        let detail = format!(
            "site sold {} on {} at {}; the ledger has it from {} on {} at {}",
            v.code, v.router, v.issued_at, e.site, e.router, e.issued_at
        );
        return audit(tx, "fleet.code-collision", detail);
    }
    let package = tx.get::<PackageRecord>(T::Packages, &id_key(v.package.0))?;
    let (package_name, limits) = match &package {
        Some(p) => (p.package.name.clone(), VoucherLimits::of(&p.package)),
        None => {
            audit(
                tx,
                "fleet.anomaly",
                format!("site sold unknown {}", v.package),
            )?;
            (v.package.to_string(), VoucherLimits::default())
        }
    };
    if let Some(s) = tx.get::<Site>(T::Sites, site.as_str().as_bytes())?
        && !v.code.starts_with(&s.code_prefix)
    {
        audit(
            tx,
            "fleet.code-outside-grant",
            format!("prefix should be {}", s.code_prefix),
        )?;
    }
    let record = VoucherRecord {
        code: v.code.clone(),
        password: v.password.clone(),
        package: v.package,
        package_name,
        router: v.router,
        site: site.clone(),
        staff: v.staff,
        price: v.price,
        origin: hotspot_shared::domain::Origin::Site,
        state: hotspot_shared::domain::VoucherState::Queued,
        reason: None,
        issued_at: v.issued_at,
        applied_at: None,
        first_login_at: None,
        expires_at: None,
        uptime_secs: 0,
        bytes_in: 0,
        bytes_out: 0,
        updated_at: stamp.at,
        limits,
    };
    add(tx, &record)?;
    let detail = format!("{} by {} for {}", record.package_name, v.staff, v.price);
    audit(tx, "voucher.issue-at-site", detail)
}
