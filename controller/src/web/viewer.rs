//! Who is looking at a page: [`Viewer`] (any signed-in person) and [`AdminViewer`] (a super
//! admin), as the page frame and the pages read them.
//!
//! Why a module of its own: the error page and the layout draw the viewer's navigation, and the
//! extractors in [`super::session`] answer with error pages. The types sit here, below both;
//! how they are found from a request (cookie session, CSRF renewal, the 403 for a wrong role)
//! is `session`'s, which re-exports them for the handlers.

use crate::api::extract::Principal;

/// The signed-in person looking at a page (any role).
#[derive(Clone, Debug)]
pub struct Viewer {
    pub principal: Principal,
    /// The text of this session's CSRF token, for the page's forms.
    pub csrf: String,
    /// The path asked for (navigation highlight).
    pub path: String,
}

impl std::ops::Deref for Viewer {
    type Target = Principal;
    fn deref(&self) -> &Principal {
        &self.principal
    }
}

/// A viewer who is a super admin; anyone else gets the 403 page.
#[derive(Clone, Debug)]
pub struct AdminViewer(pub Viewer);

impl std::ops::Deref for AdminViewer {
    type Target = Viewer;
    fn deref(&self) -> &Viewer {
        &self.0
    }
}
