//! Values the unit tests share: a router user and the ledger's facts of its sale.

use hotspot_shared::domain::{Currency, Money, Origin, PackageId, StaffId, VoucherUser};
use hotspot_shared::fleet::msg::Issue;

/// A hotspot user `code` of package 1, without limits.
pub fn user(code: &str) -> VoucherUser {
    VoucherUser {
        code: code.into(),
        password: "p".into(),
        profile: "hf".into(),
        limit_uptime: None,
        limit_bytes_total: None,
        validity: None,
        comment: "hotspot-fleet package-1 central".into(),
    }
}

/// A central sale of package 1 by staff 1 for 1.00 USD at time 0.
pub fn issue() -> Issue {
    Issue {
        package: PackageId(1),
        package_name: "1 hour".into(),
        staff: StaffId(1),
        price: Money::new(100, Currency::new("USD").expect("currency")),
        issued_at: 0,
        origin: Origin::Central,
    }
}
