//! Vouchers as the commands that put them on a router: one place for issue, the drift
//! repair's re-queue and healing.
//!
//! Commands carry one profile and one [`Issue`] (package, staff, price, time, origin) each, so
//! vouchers are grouped by their issue (a generate call is one group) and cut into commands of
//! at most [`MAX_VOUCHERS_PER_COMMAND`], in the order given.

use std::collections::HashMap;

use hotspot_shared::domain::{Package, RouterId};
use hotspot_shared::fleet::msg::{Command, Issue, MAX_VOUCHERS_PER_COMMAND};

use crate::store::VoucherRecord;

/// Whether the agent creates every voucher, or only those it does not know (healing).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Create {
    All,
    Missing,
}

/// The ledger's facts of `v`'s sale.
pub fn issue_of(v: &VoucherRecord) -> Issue {
    Issue {
        package: v.package,
        package_name: v.package_name.clone(),
        staff: v.staff,
        price: v.price,
        issued_at: v.issued_at,
        origin: v.origin,
    }
}

/// Commands for `vouchers` of `package` on `router`.
pub fn create_commands(
    router: RouterId,
    package: &Package,
    vouchers: &[&VoucherRecord],
    how: Create,
) -> Vec<Command> {
    let mut order: Vec<Issue> = Vec::new();
    let mut groups: HashMap<Issue, Vec<&VoucherRecord>> = HashMap::new();
    for v in vouchers {
        let issue = issue_of(v);
        groups
            .entry(issue.clone())
            .or_insert_with(|| {
                order.push(issue);
                Vec::new()
            })
            .push(v);
    }
    let profile = package.profile_spec();
    let mut commands = Vec::new();
    for issue in order {
        let list = groups.remove(&issue).unwrap_or_default();
        for chunk in list.chunks(MAX_VOUCHERS_PER_COMMAND) {
            let vouchers = chunk
                .iter()
                .map(|v| v.router_user(&package.profile))
                .collect();
            let (profile, issue) = (profile.clone(), issue.clone());
            commands.push(match how {
                Create::All => Command::CreateVouchers {
                    router,
                    profile,
                    issue,
                    vouchers,
                },
                Create::Missing => Command::EnsureVouchers {
                    router,
                    profile,
                    issue,
                    vouchers,
                },
            });
        }
    }
    commands
}
