//! Helpers shared by the fuzz targets.

/// Cuts `stream` into pieces as a network read would: the sizes come from `seed`, cycling
/// through 1 to 256 bytes, so the fuzzer can steer where the cuts fall (inside a length prefix,
/// inside a word, on a boundary).
pub fn pieces(stream: &[u8], seed: u8) -> Vec<&[u8]> {
    let mut out = Vec::new();
    let mut rest = stream;
    let mut size = usize::from(seed) + 1;
    while !rest.is_empty() {
        let n = size.min(rest.len());
        out.push(&rest[..n]);
        rest = &rest[n..];
        // A different size each time (an LCG step), never 0.
        size = (size * 37 + 11) % 256 + 1;
    }
    out
}

/// The input as text, when it is UTF-8 (text decoders take `&str`).
pub fn text(data: &[u8]) -> Option<&str> {
    std::str::from_utf8(data).ok()
}

/// What a fleet-link reader makes of a byte stream: the frames it decoded, in order, and the
/// error it stopped at.
#[derive(Debug, PartialEq)]
pub struct Frames<T> {
    pub values: Vec<T>,
    pub error: Option<hotspot_shared::fleet::FrameError>,
}

/// Decodes frames of `T` (cap `max`) from `parts` fed one after another, as
/// `hotspot_link::wire::FrameReader` does; checks that an error stays.
pub fn decode_frames<T: serde::de::DeserializeOwned + PartialEq + std::fmt::Debug>(
    max: usize,
    parts: &[&[u8]],
) -> Frames<T> {
    let mut d = hotspot_shared::fleet::FrameDecoder::new(max);
    let mut values = Vec::new();
    for part in parts {
        d.feed(part);
        loop {
            match d.next_frame::<T>() {
                Ok(Some(v)) => values.push(v),
                Ok(None) => break,
                Err(e) => {
                    d.feed(&[0, 0, 0, 0]);
                    assert_eq!(d.next_frame::<T>(), Err(e.clone()), "error must stay");
                    return Frames {
                        values,
                        error: Some(e),
                    };
                }
            }
        }
    }
    Frames {
        values,
        error: None,
    }
}

/// The properties every fleet decoder must have: cutting the stream anywhere changes nothing,
/// and each decoded value encodes again (under the same cap) and decodes to itself.
pub fn check_frames<T>(max: usize, stream: &[u8], seed: u8) -> Frames<T>
where
    T: serde::Serialize + serde::de::DeserializeOwned + PartialEq + std::fmt::Debug,
{
    let whole = decode_frames::<T>(max, &[stream]);
    let cut = decode_frames::<T>(max, &pieces(stream, seed));
    assert_eq!(whole, cut, "cutting the input changed the result");
    for v in &whole.values {
        let mut bytes = Vec::new();
        hotspot_shared::fleet::encode_frame(v, max, &mut bytes).expect("a decoded value encodes");
        let again = decode_frames::<T>(max, &[&bytes]);
        assert_eq!(again.error, None);
        assert_eq!(
            again.values.as_slice(),
            std::slice::from_ref(v),
            "decode(encode(v)) == v"
        );
        let _ = format!("{v:?}");
    }
    whole
}

/// One fleet-link stream a peer reads: the first byte picks the stream (even: session
/// envelopes carrying durable `D`s under `session_max`; odd: the enrollment message `E`) and
/// where reads are cut; the rest is the stream. [`check_frames`] holds for both.
pub fn check_link_stream<D, E>(data: &[u8], session_max: usize)
where
    D: serde::Serialize + serde::de::DeserializeOwned + PartialEq + std::fmt::Debug,
    E: serde::Serialize + serde::de::DeserializeOwned + PartialEq + std::fmt::Debug,
{
    use hotspot_link::wire::{LinkRequest, LinkResponse, MAX_ENROLL_FRAME};
    use hotspot_shared::fleet::msg::{Answer, Query};
    use hotspot_shared::fleet::{Envelope, envelope::check_version};

    let Some((&seed, stream)) = data.split_first() else {
        return;
    };
    if seed & 1 == 0 {
        type Session<D> = Envelope<D, LinkRequest<Query>, LinkResponse<Answer>>;
        let frames = check_frames::<Session<D>>(session_max, stream, seed >> 1);
        for f in &frames.values {
            if let Envelope::Hello { version, .. } = f {
                let _ = check_version(*version);
            }
            let _ = f.kind();
        }
    } else {
        check_frames::<E>(MAX_ENROLL_FRAME, stream, seed >> 1);
    }
}
