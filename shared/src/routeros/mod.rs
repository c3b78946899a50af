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
