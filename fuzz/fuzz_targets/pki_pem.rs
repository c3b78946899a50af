//! PEM from outside the process: certificate chains (`tls::certs_from_pem`: the granted and
//! renewed chains an agent receives, the CA it is given, a router's CA, the HTTPS certificate
//! files), private keys (`tls::private_key_from_pem`) and the agent key file
//! (`AgentKey::from_pem`).
//!
//! Asserts: a chain that parses is not empty nor holds an empty certificate; a key is not
//! empty; the certificate readers the link and the agent then apply to each certificate
//! (`site_id_from_cert`, `serial_of`, `validity_of`) give sound answers or errors; an agent key
//! that loads writes a PEM that loads to the same key and makes a CSR.
#![no_main]

use hotspot_fuzz::text;
use hotspot_pki::tls::{certs_from_pem, private_key_from_pem};
use hotspot_pki::{AgentKey, SiteId, serial_of, site_id_from_cert, validity_of};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Some(pem) = text(data) else {
        return;
    };
    if let Ok(chain) = certs_from_pem("fuzz input", pem) {
        assert!(!chain.is_empty());
        for cert in &chain {
            assert!(!cert.is_empty(), "an empty certificate section is refused");
            let _ = site_id_from_cert(cert);
            if let Ok(serial) = serial_of(cert) {
                assert!(!serial.as_bytes().is_empty() && serial.as_bytes().len() <= 20);
            }
            let _ = validity_of(cert);
        }
    }
    if let Ok(key) = private_key_from_pem("fuzz input", pem) {
        assert!(!key.secret_der().is_empty());
    }
    if let Ok(key) = AgentKey::from_pem(pem) {
        let again = AgentKey::from_pem(&key.key_pem()).expect("own PEM loads");
        assert_eq!(again.public_key_der(), key.public_key_der());
        let site = SiteId::new("fuzz").expect("valid site id");
        key.make_csr(&site).expect("a loaded key makes a CSR");
    }
});
