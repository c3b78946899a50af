//! Fleet-link frames the agent reads from the controller: envelopes carrying `Command`s
//! (durable), `Query`s and `Answer`s wrapped in the link's own request/response types, and the
//! enrollment reply (`EnrollReply`). The first byte picks the stream (session or enrollment) and
//! where reads are cut; the rest is the stream.
//!
//! Asserts (`hotspot_fuzz::check_link_stream`): the same frames and error whether the stream comes at
//! once or cut anywhere; an over-cap length is refused from its prefix; every decoded frame
//! encodes again and decodes to the same value.
#![no_main]

use hotspot_fuzz::check_link_stream;
use hotspot_link::wire::EnrollReply;
use hotspot_shared::fleet::msg::Command;
use libfuzzer_sys::fuzz_target;

/// A cap far below the link's 1 MiB, so over-cap prefixes are within the fuzzer's reach.
const SESSION_MAX: usize = 64 * 1024;

// What the agent's session reader decodes (`hotspot_link::wire::InFrame<Command, Query, Answer>`),
// and its enrollment message.
fuzz_target!(|data: &[u8]| check_link_stream::<Command, EnrollReply>(data, SESSION_MAX));
