//! Static files (`static/`) compiled into the binary, served under `/static/`.
//!
//! Each file carries the SHA-256 of its content (computed by rust-embed at build time), used
//! as a strong `ETag`, and as the `?v=` fingerprint in the layout's links ([`version`]), so
//! browsers may cache the files for a long time and still get a new one after an upgrade.

use std::borrow::Cow;

use rust_embed::RustEmbed;

#[derive(RustEmbed)]
#[folder = "static/"]
struct Files;

/// One embedded file.
pub struct Asset {
    pub body: Cow<'static, [u8]>,
    pub content_type: &'static str,
    /// Quoted strong entity tag.
    pub etag: String,
}

/// The file at `path` (relative to `/static/`), if there is one.
pub fn get(path: &str) -> Option<Asset> {
    let file = Files::get(path)?;
    let hash = file.metadata.sha256_hash();
    Some(Asset {
        etag: format!("\"{}\"", hex::encode(&hash[..16])),
        content_type: content_type(path),
        body: file.data,
    })
}

/// A short fingerprint of every embedded file together: changes whenever any file changes.
pub fn version() -> &'static str {
    static VERSION: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    VERSION.get_or_init(|| {
        let mut acc = [0u8; 8];
        for name in Files::iter() {
            if let Some(f) = Files::get(&name) {
                for (i, b) in f.metadata.sha256_hash().iter().enumerate() {
                    acc[i % 8] ^= b.rotate_left(i as u32 % 8);
                }
            }
        }
        hex::encode(acc)
    })
}

fn content_type(path: &str) -> &'static str {
    match path.rsplit('.').next().unwrap_or("") {
        "css" => "text/css; charset=utf-8",
        "js" => "text/javascript; charset=utf-8",
        "svg" => "image/svg+xml",
        "png" => "image/png",
        "ico" => "image/x-icon",
        "txt" => "text/plain; charset=utf-8",
        _ => "application/octet-stream",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stylesheet_and_script_are_embedded() {
        let css = get("app.css").expect("app.css");
        assert!(css.content_type.starts_with("text/css"));
        assert!(
            std::str::from_utf8(&css.body)
                .unwrap()
                .contains("@media print")
        );
        assert!(get("app.js").is_some());
        assert!(get("../Cargo.toml").is_none());
        assert_eq!(version().len(), 16);
    }
}
