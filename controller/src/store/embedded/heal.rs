//! An agent's inventory applied to the ledger: what the ledger lost, taken back.
//!
//! Each [`HeldVoucher`] of an [`Event::Inventory`](hotspot_shared::fleet::msg::Event) part is
//! one of:
//! - **unknown to the ledger**: added from the agent's copy of the sale ([`Issue`]: package,
//!   staff, price, time, origin), in the state the agent reports, marked recovered (its
//!   `reason` says so, and a `voucher.recovered` audit entry);
//! - **known**: the agent's news applied through the state machine (on the router = applied,
//!   removed, failed), which only moves forward, so a stale inventory changes nothing; a voucher
//!   the ledger revoked while the agent still holds it is listed for removal;
//! - **someone else's** (another site or router under that code): audited, left alone.
//!
//! Progress is one [`HealRecord`] per site, updated in each part's transaction (the link's, so
//! a part and its effect commit together); the last part marks the replay due (`fleet::heal`).

use hotspot_pki::SiteId;
use hotspot_shared::domain::{Origin, RemovalReason, VoucherState};
use hotspot_shared::fleet::msg::{HeldStatus, HeldVoucher};

use super::layout::{T, id_key};
use super::tx::Tx;
use super::writes::{add, change};
use crate::store::error::StoreError;
use crate::store::records::{HealRecord, RouterRecord, Stamp};
use crate::store::voucher::{VoucherChange, VoucherLimits, VoucherRecord, code_is_usable};

/// What a reason says on a recovered voucher.
pub const RECOVERED: &str = "recovered from the site's inventory after the ledger lost it";

/// Applies one inventory part of `site`. Returns the oldest issue time of recovered site
/// sales (for the report refresher), if any.
pub(super) fn inventory(
    tx: &mut Tx<'_, '_>,
    stamp: &Stamp,
    site: &SiteId,
    round: u64,
    reason: &str,
    vouchers: &[HeldVoucher],
    last: bool,
) -> Result<Option<i64>, StoreError> {
    let key = site.as_str().as_bytes().to_vec();
    let mut heal = match tx.get::<HealRecord>(T::Heal, &key)? {
        Some(h) if h.round == round => h,
        _ => {
            tx.audit(&stamp.audit("fleet.heal.inventory", site, reason))?;
            HealRecord {
                site: site.clone(),
                round,
                reason: reason.to_string(),
                started_at: stamp.at,
                recovered: 0,
                updated: 0,
                remove: Vec::new(),
                due: false,
            }
        }
    };
    let mut late_sales: Option<i64> = None;
    for held in vouchers {
        let code = &held.user.code;
        let router = tx.get::<RouterRecord>(T::Routers, &id_key(held.router.0))?;
        if router.as_ref().is_none_or(|r| r.site != *site) {
            let detail = format!("inventory names {} of another site or none", held.router);
            tx.audit(&stamp.audit("fleet.anomaly", code, detail))?;
            continue;
        }
        if !code_is_usable(code) {
            let detail = format!("inventory voucher with unusable code {code:?}");
            tx.audit(&stamp.audit("fleet.anomaly", site, detail))?;
            continue;
        }
        match tx.get::<VoucherRecord>(T::Vouchers, code.as_bytes())? {
            None => {
                add(tx, &recovered(held, site, stamp.at))?;
                let detail = format!(
                    "{} on {} by {} for {} ({})",
                    held.issue.package_name,
                    held.router,
                    held.issue.staff,
                    held.issue.price,
                    origin_word(held.issue.origin)
                );
                tx.audit(&stamp.audit("voucher.recovered", code, detail))?;
                heal.recovered += 1;
                if held.issue.origin == Origin::Site {
                    late_sales = Some(
                        late_sales
                            .map_or(held.issue.issued_at, |t: i64| t.min(held.issue.issued_at)),
                    );
                }
            }
            Some(v) if v.site != *site || v.router != held.router => {
                let detail = format!(
                    "the site holds it on {}; the ledger has it on {} of {}",
                    held.router, v.router, v.site
                );
                tx.audit(&stamp.audit("fleet.code-collision", code, detail))?;
            }
            Some(v) => {
                let on_router = matches!(held.status, HeldStatus::Pending | HeldStatus::OnRouter);
                if on_router && v.state == VoucherState::Revoked {
                    heal.remove.push((held.router, code.clone()));
                    continue;
                }
                let news = match held.status {
                    HeldStatus::OnRouter => Some(VoucherChange::Applied),
                    HeldStatus::Removed => Some(VoucherChange::Removed(RemovalReason::Expired)),
                    HeldStatus::Failed => Some(VoucherChange::Failed {
                        reason: "the router refused it (from the site's inventory)".into(),
                        conflict: false,
                    }),
                    HeldStatus::Pending | HeldStatus::Removing => None,
                };
                if let Some(news) = news
                    && change(tx, code, &news, stamp.at)?.is_some_and(|o| o.transition.changed())
                {
                    heal.updated += 1;
                }
            }
        }
    }
    heal.due = last;
    tx.put(T::Heal, &key, &heal)?;
    Ok(late_sales)
}

fn origin_word(origin: Origin) -> &'static str {
    match origin {
        Origin::Central => "central",
        Origin::Site => "sold at the site",
    }
}

/// The ledger's record of a voucher it lacked, from the agent's copy.
fn recovered(held: &HeldVoucher, site: &SiteId, now: i64) -> VoucherRecord {
    let (state, applied_at) = match held.status {
        HeldStatus::Pending => (VoucherState::Queued, None),
        HeldStatus::OnRouter if held.first_used_at.is_some() => (VoucherState::InUse, Some(now)),
        HeldStatus::OnRouter => (VoucherState::Active, Some(now)),
        HeldStatus::Removing | HeldStatus::Removed => (VoucherState::Removed, None),
        HeldStatus::Failed => (VoucherState::Failed, None),
    };
    let user = &held.user;
    VoucherRecord {
        code: user.code.clone(),
        password: user.password.clone(),
        package: held.issue.package,
        package_name: held.issue.package_name.clone(),
        router: held.router,
        site: site.clone(),
        staff: held.issue.staff,
        price: held.issue.price,
        origin: held.issue.origin,
        state,
        reason: Some(RECOVERED.to_string()),
        issued_at: held.issue.issued_at,
        applied_at,
        first_login_at: held.first_used_at,
        expires_at: None,
        uptime_secs: 0,
        bytes_in: 0,
        bytes_out: 0,
        updated_at: now,
        limits: VoucherLimits {
            uptime_secs: user.limit_uptime.map(|d| d.as_secs()),
            bytes_total: user.limit_bytes_total,
            validity_secs: user.validity.map(|d| d.as_secs()),
        },
    }
}
