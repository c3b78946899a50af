//! Master key files (`hotspot_pki::keyfile::parse`: the text of `master-key-<id>.key`, read by
//! the agent and the controller at start, possibly a mounted secret someone else wrote).
//!
//! Asserts: no panic; a key that parses writes a file (`keyfile::encode`) that parses to the
//! same id and bytes; an error never quotes the input's hex (key material must not reach logs).
#![no_main]

use std::path::Path;

use hotspot_pki::keyfile;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let path = Path::new("master-key-1.key");
    match keyfile::parse(path, data) {
        Ok(key) => {
            let text = keyfile::encode(&key);
            let again = keyfile::parse(path, text.as_bytes()).expect("own output parses");
            assert_eq!(again.id(), key.id());
            assert_eq!(again.expose_bytes(), key.expose_bytes());
        }
        Err(e) => {
            let message = e.to_string();
            let Ok(text) = std::str::from_utf8(data) else {
                return;
            };
            for line in text.lines().map(str::trim) {
                if line.len() >= 16 && line.bytes().all(|b| b.is_ascii_hexdigit()) {
                    assert!(
                        !message.contains(line),
                        "error quotes the key line: {message}"
                    );
                }
            }
        }
    }
});
