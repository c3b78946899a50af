//! The controller ↔ agent protocol, without IO.
//!
//! - [`frame`]: length-prefixed frames with a hard size cap, and an incremental decoder;
//! - [`envelope`]: what travels in a frame: the Hello, sequenced data, acks, heartbeats,
//!   requests and responses with deadlines. The payloads (commands, events) are type
//!   parameters, so the channel is written and tested once and the domain messages live apart.
//!
//! Delivery is at-least-once and effects exactly-once: every data message carries the sender's
//! per-peer sequence number; the receiver records the highest number it applied in the same
//! storage transaction as the effect, answers with an [`envelope::Envelope::Ack`], and tells the
//! sender in its Hello where to resume after a reconnect.

pub mod envelope;
pub mod frame;
pub mod msg;

pub use envelope::{Envelope, Numbering, PROTOCOL_VERSION, Refusal};
pub use frame::{FrameDecoder, FrameError, MAX_FRAME_LEN, encode_frame};

/// ALPN protocol id of the fleet link.
pub const ALPN: &[u8] = b"hotspot-fleet/1";
