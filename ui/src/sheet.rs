//! The printable voucher sheet: A4 pages of cards, each with the code, the package, its limits
//! and price, the site, and a QR code of the hotspot login URL carrying the code.
//!
//! - **Plain functions over [`Card`]**: the controller and the agent's local page fill cards
//!   from their own records and call [`render_card`] or [`render_sheet`].
//! - **Self-contained page**: the sheet's stylesheet (`static/sheet.css`) is inlined, so a saved
//!   or offline copy prints the same; `@page` sets A4 with small margins and cards never break
//!   across pages.
//! - **QR codes drawn here**, as inline SVG (no image files, no network, sharp at any printer
//!   resolution). The URL is the hotspot's login form with `username` and `password` in the
//!   query ([`login_url`]): MikroTik's hotspot accepts these on `/login`, so scanning signs the
//!   phone in directly once it is on the hotspot's Wi-Fi.

use askama::Template;
use qrcode::render::svg;
use qrcode::{EcLevel, QrCode};

/// The login base used when a router's hotspot address is not known: the address MikroTik's
/// hotspot setup wizard proposes (`10.5.50.1`), reachable from any client of a default
/// hotspot without DNS.
pub const DEFAULT_LOGIN_BASE: &str = "http://10.5.50.1/login";

/// Most cards on one sheet (a few hundred pages of A4 is already a lot for a browser).
pub const MAX_CARDS: usize = 1000;

/// One voucher card's text.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Card {
    /// The hotspot user name (the code customers type).
    pub code: String,
    /// The password; shown only when it differs from the code.
    pub password: String,
    pub package: String,
    /// Limits in words (`1 h · 1 GB · valid 1 d`); may be empty.
    pub limits: String,
    /// Price in words (`5.00 USD`).
    pub price: String,
    /// Site name (where the voucher works).
    pub site: String,
    /// What the QR code opens (see [`login_url`]).
    pub login_url: String,
}

impl Card {
    pub fn shows_password(&self) -> bool {
        self.password != self.code
    }
}

/// Why a sheet could not be drawn.
#[derive(Debug)]
pub enum SheetError {
    /// The login URL does not fit in a QR code.
    Qr(String),
    /// The template failed (a bug).
    Render(String),
    /// More than [`MAX_CARDS`] cards.
    TooMany(usize),
}

impl std::fmt::Display for SheetError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            SheetError::Qr(e) => write!(f, "QR code: {e}"),
            SheetError::Render(e) => write!(f, "voucher sheet: {e}"),
            SheetError::TooMany(n) => {
                write!(
                    f,
                    "{n} cards asked for; one sheet holds at most {MAX_CARDS}"
                )
            }
        }
    }
}

impl std::error::Error for SheetError {}

/// `base?username=CODE&password=PASS`, values percent-encoded. `base` is the hotspot's login
/// page (`http://hotspot.example/login`); an empty base means [`DEFAULT_LOGIN_BASE`].
pub fn login_url(base: &str, username: &str, password: &str) -> String {
    let base = match base.trim() {
        "" => DEFAULT_LOGIN_BASE,
        b => b,
    };
    let sep = if base.contains('?') { '&' } else { '?' };
    format!(
        "{base}{sep}username={}&password={}",
        encode(username),
        encode(password)
    )
}

fn encode(value: &str) -> String {
    let mut out = String::with_capacity(value.len());
    for b in value.bytes() {
        if b.is_ascii_alphanumeric() || b"-_.~".contains(&b) {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// The QR code of `text` as an inline `<svg>` element (no XML declaration), sized by CSS.
pub fn qr_svg(text: &str) -> Result<String, SheetError> {
    qr_svg_labelled(text, "QR code to sign in")
}

/// [`qr_svg`] with another accessible label (`label` is put in an attribute as is: pass a
/// literal).
pub fn qr_svg_labelled(text: &str, label: &str) -> Result<String, SheetError> {
    let code = QrCode::with_error_correction_level(text.as_bytes(), EcLevel::M)
        .map_err(|e| SheetError::Qr(e.to_string()))?;
    let image = code
        .render::<svg::Color<'_>>()
        .quiet_zone(true)
        .module_dimensions(1, 1)
        .build();
    let start = image.find("<svg").unwrap_or(0);
    Ok(image[start..].replacen(
        "<svg ",
        &format!("<svg class=\"qr\" role=\"img\" aria-label=\"{label}\" "),
        1,
    ))
}

#[derive(Template)]
#[template(path = "card.html")]
struct CardTemplate<'a> {
    card: &'a Card,
    qr: String,
}

#[derive(Template)]
#[template(path = "sheet.html")]
struct SheetTemplate<'a> {
    title: &'a str,
    css: &'static str,
    cards: Vec<String>,
}

/// One card as an HTML fragment (`<article class="card">…</article>`).
pub fn render_card(card: &Card) -> Result<String, SheetError> {
    let qr = qr_svg(&card.login_url)?;
    CardTemplate { card, qr }
        .render()
        .map_err(|e| SheetError::Render(e.to_string()))
}

/// A whole printable page of `cards` (an HTML document).
pub fn render_sheet(title: &str, cards: &[Card]) -> Result<String, SheetError> {
    if cards.len() > MAX_CARDS {
        return Err(SheetError::TooMany(cards.len()));
    }
    let cards = cards.iter().map(render_card).collect::<Result<_, _>>()?;
    SheetTemplate {
        title,
        css: SHEET_CSS,
        cards,
    }
    .render()
    .map_err(|e| SheetError::Render(e.to_string()))
}

const SHEET_CSS: &str = include_str!("../static/sheet.css");

#[cfg(test)]
mod tests {
    use super::*;

    fn card(code: &str, password: &str) -> Card {
        Card {
            code: code.into(),
            password: password.into(),
            package: "1 hour".into(),
            limits: "1 h · 1 GB".into(),
            price: "1.00 USD".into(),
            site: "Main <street>".into(),
            login_url: login_url("", code, password),
        }
    }

    #[test]
    fn login_url_carries_the_code() {
        assert_eq!(
            login_url("http://hs.lan/login", "AB-12", "p w&"),
            "http://hs.lan/login?username=AB-12&password=p%20w%26"
        );
        assert_eq!(
            login_url(" ", "X", "X"),
            "http://10.5.50.1/login?username=X&password=X"
        );
    }

    #[test]
    fn qr_is_inline_svg() {
        let svg = qr_svg("http://10.5.50.1/login?username=X&password=X").unwrap();
        assert!(svg.starts_with("<svg class=\"qr\""), "{}", &svg[..40]);
        assert!(svg.ends_with("</svg>"));
        assert!(!svg.contains("<?xml"));
    }

    #[test]
    fn sheet_has_one_card_per_voucher_and_escapes_text() {
        let html = render_sheet(
            "Vouchers",
            &[card("AAA111", "AAA111"), card("BBB222", "PW9")],
        )
        .unwrap();
        assert_eq!(html.matches("<article class=\"card\"").count(), 2);
        assert_eq!(html.matches("<svg class=\"qr\"").count(), 2);
        assert!(html.contains("Main &#60;street&#62;") || html.contains("Main &lt;street&gt;"));
        assert!(!html.contains("Main <street>"));
        // The password line appears only where it differs from the code.
        assert_eq!(html.matches("class=\"cred pw\"").count(), 1);
        assert!(html.contains("@page"));
    }

    #[test]
    fn the_sheet_runs_no_inline_script() {
        // The pages' policy (`crate::headers`) allows scripts from /static only.
        let html = render_sheet("Vouchers", &[card("AAA111", "AAA111")]).unwrap();
        assert!(
            !html.contains("onclick=") && !html.contains("javascript:"),
            "{html}"
        );
        assert!(html.contains("<script src=\"/static/app.js\" defer></script>"));
        assert!(html.contains("data-print"));
    }

    #[test]
    fn too_many_cards_is_refused() {
        let many = vec![card("A", "A"); MAX_CARDS + 1];
        assert!(matches!(
            render_sheet("x", &many),
            Err(SheetError::TooMany(_))
        ));
    }
}
