//! The dashboard's navigation entries (href, label), in order: what [`super::layout`] draws
//! in every page's header.
//!
//! Why a module of its own: the page frame must know nothing of the pages inside it. The frame
//! reads these lists; the pages they lead to ([`super::admin`], [`super::staff`]) are not
//! imported. A new admin section adds its link to [`ADMIN`].

/// The admin sections in the navigation (href, label), in order.
pub const ADMIN: &[(&str, &str)] = &[
    ("/admin", "Overview"),
    ("/admin/sites", "Enrollment"),
    ("/admin/packages", "Packages"),
    ("/admin/staff", "Staff"),
    ("/admin/vouchers", "Vouchers"),
    ("/admin/reports", "Reports"),
    ("/admin/api-keys", "API keys"),
];

/// Sections every signed-in person has (admins may sell too).
pub const SELLING: &[(&str, &str)] = &[("/staff", "Sell"), ("/staff/vouchers", "My vouchers")];

/// The signed-in person's own settings (two-factor sign-in).
pub const ACCOUNT: &[(&str, &str)] = &[("/account", "Account")];
