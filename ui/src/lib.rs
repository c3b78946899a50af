//! The web UI pieces shared by the controller's dashboard and the agent's local staff page.
//!
//! - [`assets`]: the stylesheet, script and icon, embedded in the binary (no CDN, no build
//!   step), with a content hash for cache validation;
//! - [`layout`]: the base page (`templates/base.html`) and what it needs ([`layout::Layout`]);
//!   a crate's templates extend it when its `askama.toml` lists `../ui/templates` in `dirs`;
//! - [`fmt`]: money, durations and byte counts in words people read;
//! - [`sheet`]: the printable A4 sheet of voucher cards with server-drawn QR codes.
//!
//! Nothing here does IO or knows about a web framework: callers put the strings and bytes into
//! their own responses.

pub mod assets;
pub mod fmt;
pub mod headers;
pub mod https;
pub mod layout;
pub mod sheet;

pub use layout::{Flash, FlashKind, Layout, NavItem};
pub use sheet::{Card, SheetError, login_url, qr_svg_labelled, render_sheet};
