//! Certificate signing requests from agents (`FleetCa::sign_agent_csr`: the enrollment request
//! and `LinkRequest::Renew` carry CSR DER from a not yet trusted machine).
//!
//! Asserts: no panic; a CSR that is signed yields a certificate that names exactly the site
//! asked for (never anything from the CSR), carries the serial and validity reported, and whose
//! PEM reads back to the same DER.
#![no_main]

use std::sync::OnceLock;

use hotspot_pki::tls::certs_from_pem;
use hotspot_pki::{
    DEFAULT_AGENT_CERT_VALIDITY, FleetCa, SiteId, serial_of, site_id_from_cert, validity_of,
};
use libfuzzer_sys::fuzz_target;
use time::OffsetDateTime;
use time::macros::datetime;

const NOW: OffsetDateTime = datetime!(2026-05-01 12:00 UTC);

fn ca() -> &'static FleetCa {
    static CA: OnceLock<FleetCa> = OnceLock::new();
    CA.get_or_init(|| FleetCa::generate(NOW).expect("a CA").0)
}

fuzz_target!(|csr: &[u8]| {
    let site = SiteId::new("site-1").expect("valid site id");
    let Ok(issued) = ca().sign_agent_csr(csr, &site, DEFAULT_AGENT_CERT_VALIDITY, NOW) else {
        return;
    };
    let der = issued.cert_der.as_ref();
    assert_eq!(site_id_from_cert(der).ok().as_ref(), Some(&site));
    assert_eq!(serial_of(der).ok().as_ref(), Some(&issued.serial));
    assert_eq!(
        validity_of(der).ok(),
        Some((issued.not_before, issued.not_after))
    );
    let pem = certs_from_pem("issued", &issued.cert_pem).expect("issued PEM reads");
    assert_eq!(pem, vec![issued.cert_der.clone()]);
});
