//! Certificate DER as a peer presents it: what the controller reads from an agent's client
//! certificate on every connection (`site_id_from_cert`, `serial_of`, `validity_of`, in
//! `hotspot_link::server::accept`) and the agent from its own files.
//!
//! Asserts: no panic; a serial is a positive integer of at most 20 bytes without a leading
//! zero; a site is a valid site id; `renewal_due` copes with any validity read.
#![no_main]

use hotspot_pki::{SiteId, renewal_due, serial_of, site_id_from_cert, validity_of};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|der: &[u8]| {
    if let Ok(site) = site_id_from_cert(der) {
        assert_eq!(SiteId::new(site.as_str()).as_ref(), Ok(&site));
    }
    if let Ok(serial) = serial_of(der) {
        let b = serial.as_bytes();
        assert!(!b.is_empty() && b[0] != 0 && b.len() <= 20, "{serial:?}");
    }
    if let Ok((not_before, not_after)) = validity_of(der) {
        for now in [not_before, not_after] {
            let _ = renewal_due(not_before, not_after, now);
        }
    }
});
