//! Strings operators paste or type into the PKI: enrollment tokens (`hfe1.<site>.<secret>.<ca>`,
//! `EnrollmentToken::from_str`, read by `hotspot-agent enroll` and sent to the controller), site
//! ids (`SiteId::new`) and certificate serials (`Serial::from_str`, `hotspot-controller sites
//! revoke`, and `Serial::from_be_bytes` on a certificate's serial field).
//!
//! Asserts: a token that parses prints as its input (trimmed, hex lowercased) and parses again
//! to itself; a site id is exactly its input and reads back; a serial has no leading zero, at
//! most 20 bytes, and its hex and its bytes read back to itself.
#![no_main]

use hotspot_pki::{EnrollmentToken, Serial, SiteId};
use libfuzzer_sys::fuzz_target;

fn check_serial(s: &Serial) {
    let bytes = s.as_bytes();
    assert!(
        !bytes.is_empty() && bytes[0] != 0 && bytes.len() <= 20,
        "{s:?}"
    );
    assert_eq!(s.to_string().parse::<Serial>().as_ref(), Ok(s));
    assert_eq!(Serial::from_be_bytes(bytes).as_ref(), Ok(s));
}

fuzz_target!(|data: &[u8]| {
    if let Ok(serial) = Serial::from_be_bytes(data) {
        check_serial(&serial);
    }
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    if let Ok(token) = text.parse::<EnrollmentToken>() {
        let shown = token.to_string();
        assert_eq!(shown, text.trim().to_ascii_lowercase());
        assert_eq!(shown.parse::<EnrollmentToken>().as_ref(), Ok(&token));
        assert!(token.verify_secret(&token.secret_hash()));
    }
    if let Ok(site) = SiteId::new(text) {
        assert_eq!(site.as_str(), text);
        assert!(!text.is_empty() && text.len() <= 64);
        assert_eq!(site.to_string().parse::<SiteId>().as_ref(), Ok(&site));
    }
    if let Ok(serial) = text.parse::<Serial>() {
        check_serial(&serial);
    }
});
