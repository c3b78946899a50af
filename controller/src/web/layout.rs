//! The shared layout filled for the dashboard: brand, role-aware navigation, who is signed in.

use hotspot_ui::{Layout, NavItem};

use super::nav::{ACCOUNT, ADMIN, SELLING};
use super::viewer::Viewer;

/// The product line in the header.
pub const BRAND: &str = "Hotspot Fleet";

/// Layout of a page without a session.
pub fn public(title: &str) -> Layout {
    Layout::public(title, BRAND)
}

/// Layout of a page for `viewer`: navigation by role, sign-out form with the CSRF token.
pub fn layout_for(viewer: &Viewer, title: &str) -> Layout {
    let current = viewer.path.as_str();
    let mut nav = Vec::new();
    if viewer.is_admin() {
        nav.extend(ADMIN.iter().map(|(h, l)| NavItem::new(*h, *l, current)));
    }
    nav.extend(SELLING.iter().map(|(h, l)| NavItem::new(*h, *l, current)));
    nav.extend(ACCOUNT.iter().map(|(h, l)| NavItem::new(*h, *l, current)));
    // `/staff` would light up for `/staff/vouchers` too: keep only the most specific match.
    let best = nav.iter().filter(|n| n.active).map(|n| n.href.len()).max();
    for n in &mut nav {
        n.active = n.active && Some(n.href.len()) == best;
    }
    let role = if viewer.is_admin() {
        "super admin"
    } else {
        "staff"
    };
    Layout {
        title: title.to_owned(),
        brand: BRAND.to_owned(),
        home: home_of(viewer).to_owned(),
        nav,
        user: Some(format!("{} · {role}", viewer.staff.username)),
        csrf: Some(viewer.csrf.clone()),
        logout: Some("/logout".to_owned()),
        flash: None,
        asset_version: hotspot_ui::assets::version(),
    }
}

/// Where a signed-in person starts.
pub fn home_of(viewer: &crate::api::extract::Principal) -> &'static str {
    if viewer.is_admin() {
        "/admin"
    } else {
        "/staff"
    }
}
