//! The domain both ends agree on: money, packages, vouchers and their states, and what an agent
//! reports about a router (health, info, usage).
//!
//! Plain data with validation at construction; serde for the fleet link (postcard) and the
//! controller's JSON API. Times are Unix seconds (`i64`): this crate reads no clock.

pub mod money;
pub mod package;
pub mod router;
pub mod voucher;

pub use money::{Currency, Money, MoneyError};
pub use package::{Package, PackageError, ProfileSpec};
pub use router::{
    ActiveSession, FailureKind, HealthSample, RouterFailure, RouterInfo, RouterSpec, RouterTls,
    UsageSample,
};
pub use voucher::{Origin, RemovalReason, VoucherState, VoucherUser};

use serde::{Deserialize, Serialize};

macro_rules! id_type {
    ($(#[$doc:meta])* $name:ident, $prefix:literal) => {
        $(#[$doc])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
        #[serde(transparent)]
        pub struct $name(pub u64);

        impl std::fmt::Display for $name {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                write!(f, concat!($prefix, "{}"), self.0)
            }
        }
    };
}

id_type!(
    /// A router, as the controller numbers them (fleet-wide).
    RouterId,
    "router-"
);
id_type!(
    /// A priced package.
    PackageId,
    "package-"
);
id_type!(
    /// A staff member or admin account.
    StaffId,
    "staff-"
);
