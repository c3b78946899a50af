//! The RouterOS API wire protocol, without IO.
//!
//! Three layers, each usable on its own:
//! - [`length`]: the variable-length word-length prefix (1 to 5 bytes);
//! - [`codec`]: words and sentences, an encoder and an incremental, bounded [`codec::Decoder`]
//!   that accepts input cut at any byte;
//! - [`message`]: what sentences mean: a [`message::Request`] (command, attributes, API
//!   attributes, queries) and a [`message::Reply`] (`!re`, `!done`, `!trap`, `!fatal`, `!empty`).
//!
//! Values are bytes, not strings: routers send their own code page (often Windows-1252), and a
//! value must come back to the router exactly as it left it. Text is decoded only for display.

pub mod codec;
pub mod length;
pub mod message;

pub use codec::{CodecError, Decoder, Limits, encode_sentence};
pub use message::{Attributes, MessageError, Reply, ReplyKind, Request, TrapCategory};

/// Whether `id` has the shape of an item's `.id` as a router prints it: `*` followed by 1 to 16
/// hex digits (`*1A`). Checked before an id from outside is sent to a router.
pub fn is_item_id(id: &str) -> bool {
    (2..=17).contains(&id.len())
        && id.starts_with('*')
        && id[1..].bytes().all(|b| b.is_ascii_hexdigit())
}

#[cfg(test)]
mod tests {
    use super::is_item_id;

    #[test]
    fn item_ids_are_a_star_and_hex_digits() {
        for good in ["*1", "*1A", "*ffffffffffffffff"] {
            assert!(is_item_id(good), "{good}");
        }
        for bad in [
            "",
            "*",
            "0",
            "1A",
            "*1G",
            "*-1",
            "**1",
            "*fffffffffffffffff",
            "*é",
        ] {
            assert!(!is_item_id(bad), "{bad}");
        }
    }
}
