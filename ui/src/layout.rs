//! The base page every dashboard page extends (`templates/base.html`).
//!
//! A page's template struct holds a [`Layout`] in a field named `layout` and starts with
//! `{% extends "base.html" %}`, filling `{% block content %}` (and optionally `title`-free
//! blocks `head` and `scripts`). The layout draws the header with the navigation, who is signed
//! in, the sign-out button (a POST form carrying the CSRF token), and a flash message.
//!
//! Secrets never go in here: the CSRF token is the only per-session value a page carries, and
//! it is meant for the page.

/// One navigation link.
#[derive(Clone, Debug)]
pub struct NavItem {
    pub href: String,
    pub label: String,
    /// The current page's section: drawn highlighted.
    pub active: bool,
}

impl NavItem {
    pub fn new(href: impl Into<String>, label: impl Into<String>, current: &str) -> NavItem {
        let href = href.into();
        let active =
            current == href || (href.len() > 1 && current.starts_with(&format!("{href}/")));
        NavItem {
            href,
            label: label.into(),
            active,
        }
    }
}

/// How a flash message looks.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FlashKind {
    Info,
    Success,
    Error,
}

/// A message shown above the page's content.
#[derive(Clone, Debug)]
pub struct Flash {
    pub kind: FlashKind,
    pub text: String,
}

impl Flash {
    pub fn error(text: impl Into<String>) -> Flash {
        Flash {
            kind: FlashKind::Error,
            text: text.into(),
        }
    }

    pub fn success(text: impl Into<String>) -> Flash {
        Flash {
            kind: FlashKind::Success,
            text: text.into(),
        }
    }

    pub fn info(text: impl Into<String>) -> Flash {
        Flash {
            kind: FlashKind::Info,
            text: text.into(),
        }
    }

    /// CSS class of the message box.
    pub fn class(&self) -> &'static str {
        match self.kind {
            FlashKind::Info => "flash flash-info",
            FlashKind::Success => "flash flash-ok",
            FlashKind::Error => "flash flash-error",
        }
    }
}

/// What the base page needs.
#[derive(Clone, Debug)]
pub struct Layout {
    /// The page's title (also the `<title>`, followed by the product name).
    pub title: String,
    /// The product line in the header (`Hotspot Fleet`, or a site's name on an agent).
    pub brand: String,
    /// Where the brand links to.
    pub home: String,
    pub nav: Vec<NavItem>,
    /// Who is signed in (`alice · staff`); `None` on the sign-in page.
    pub user: Option<String>,
    /// The CSRF token for this page's forms; `None` without a session.
    pub csrf: Option<String>,
    /// Where the sign-out form posts to; no button when `None`.
    pub logout: Option<String>,
    pub flash: Option<Flash>,
    /// `?v=` fingerprint of the static files.
    pub asset_version: &'static str,
}

impl Layout {
    /// A layout for a page without a session (sign-in, errors before sign-in).
    pub fn public(title: impl Into<String>, brand: impl Into<String>) -> Layout {
        Layout {
            title: title.into(),
            brand: brand.into(),
            home: "/".to_owned(),
            nav: Vec::new(),
            user: None,
            csrf: None,
            logout: None,
            flash: None,
            asset_version: crate::assets::version(),
        }
    }

    pub fn with_flash(mut self, flash: Option<Flash>) -> Layout {
        self.flash = flash;
        self
    }

    /// The CSRF token or the empty string (for templates).
    pub fn csrf_token(&self) -> &str {
        self.csrf.as_deref().unwrap_or("")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nav_item_is_active_for_its_section() {
        assert!(NavItem::new("/staff", "Sell", "/staff").active);
        assert!(NavItem::new("/staff", "Sell", "/staff/x").active);
        assert!(!NavItem::new("/staff", "Sell", "/staffing").active);
        assert!(!NavItem::new("/", "Home", "/staff").active);
    }
}
