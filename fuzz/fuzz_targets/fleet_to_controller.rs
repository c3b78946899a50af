//! Fleet-link frames the controller reads from agents: envelopes carrying `Event`s
//! (durable), `Query`s and `Answer`s wrapped in the link's own request/response types, and the
//! enrollment reply (`EnrollReply`). The first byte picks the stream (session or enrollment) and
//! where reads are cut; the rest is the stream.
//!
//! Asserts (`hotspot_fuzz::check_frames`): the same frames and error whether the stream comes at
//! once or cut anywhere; an over-cap length is refused from its prefix; every decoded frame
//! encodes again and decodes to the same value.
#![no_main]

use hotspot_fuzz::check_frames;
use hotspot_link::wire::{EnrollRequest, LinkRequest, LinkResponse, MAX_ENROLL_FRAME};
use hotspot_shared::fleet::msg::{Answer, Event, Query};
use hotspot_shared::fleet::{Envelope, envelope::check_version};
use libfuzzer_sys::fuzz_target;

/// What the controller's session reader decodes (`hotspot_link::wire::InFrame<Event, Query, Answer>`).
type FromAgent = Envelope<Event, LinkRequest<Query>, LinkResponse<Answer>>;

/// A cap far below the link's 1 MiB, so over-cap prefixes are within the fuzzer's reach.
const SESSION_MAX: usize = 64 * 1024;

fuzz_target!(|data: &[u8]| {
    let Some((&seed, stream)) = data.split_first() else {
        return;
    };
    if seed & 1 == 0 {
        let frames = check_frames::<FromAgent>(SESSION_MAX, stream, seed >> 1);
        for f in &frames.values {
            if let Envelope::Hello { version, .. } = f {
                let _ = check_version(*version);
            }
            let _ = f.kind();
        }
    } else {
        check_frames::<EnrollRequest>(MAX_ENROLL_FRAME, stream, seed >> 1);
    }
});
