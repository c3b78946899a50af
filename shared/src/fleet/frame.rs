//! Length-prefixed frames: a 4-byte big-endian length, then a postcard-encoded value.
//!
//! The cheap "is a whole frame here?" check (the length prefix) is apart from parsing, as in
//! mini-redis: the decoder refuses an over-cap length as soon as the 4 bytes are in, before it
//! buffers the body.

use serde::{Serialize, de::DeserializeOwned};

/// Largest frame body the link accepts by default. Senders split batches below this.
pub const MAX_FRAME_LEN: usize = 1024 * 1024;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum FrameError {
    #[error("frame of {len} bytes exceeds the cap of {max}")]
    TooLarge { len: usize, max: usize },
    #[error("frame does not decode: {0}")]
    Decode(String),
    #[error("value does not encode: {0}")]
    Encode(String),
}

/// Appends one frame holding `value`.
pub fn encode_frame<T: Serialize>(
    value: &T,
    max: usize,
    out: &mut Vec<u8>,
) -> Result<(), FrameError> {
    let body = postcard::to_stdvec(value).map_err(|e| FrameError::Encode(e.to_string()))?;
    if body.len() > max {
        return Err(FrameError::TooLarge {
            len: body.len(),
            max,
        });
    }
    // `max` is at most u32::MAX in any sane configuration; refuse otherwise.
    let len = u32::try_from(body.len()).map_err(|_| FrameError::TooLarge {
        len: body.len(),
        max,
    })?;
    out.extend_from_slice(&len.to_be_bytes());
    out.extend_from_slice(&body);
    Ok(())
}

/// Incremental frame decoder with a size cap. After an error it stays failed.
#[derive(Debug)]
pub struct FrameDecoder {
    max: usize,
    buf: Vec<u8>,
    failed: Option<FrameError>,
}

impl FrameDecoder {
    pub fn new(max: usize) -> Self {
        FrameDecoder {
            max,
            buf: Vec::new(),
            failed: None,
        }
    }

    pub fn feed(&mut self, data: &[u8]) {
        self.buf.extend_from_slice(data);
    }

    /// True when no partial frame is buffered.
    pub fn is_idle(&self) -> bool {
        self.buf.is_empty()
    }

    /// The body length of the frame at the head of the buffer, once its prefix is in; an error
    /// for an over-cap length.
    fn whole_frame_len(&self) -> Result<Option<usize>, FrameError> {
        let Some(prefix) = self.buf.first_chunk::<4>() else {
            return Ok(None);
        };
        let len = u32::from_be_bytes(*prefix) as usize;
        if len > self.max {
            return Err(FrameError::TooLarge { len, max: self.max });
        }
        Ok((self.buf.len() >= 4 + len).then_some(len))
    }

    /// The next whole value, `Ok(None)` when more bytes are needed.
    pub fn next_frame<T: DeserializeOwned>(&mut self) -> Result<Option<T>, FrameError> {
        if let Some(e) = &self.failed {
            return Err(e.clone());
        }
        let result = self.whole_frame_len().and_then(|len| {
            let Some(len) = len else { return Ok(None) };
            let value = postcard::from_bytes(&self.buf[4..4 + len])
                .map_err(|e| FrameError::Decode(e.to_string()));
            self.buf.drain(..4 + len);
            value.map(Some)
        });
        if let Err(e) = &result {
            self.failed = Some(e.clone());
        }
        result
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use serde::Deserialize;

    #[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
    enum Msg {
        A(u64),
        B { text: String, bytes: Vec<u8> },
    }

    fn msg() -> impl Strategy<Value = Msg> {
        prop_oneof![
            any::<u64>().prop_map(Msg::A),
            (".{0,40}", proptest::collection::vec(any::<u8>(), 0..200))
                .prop_map(|(text, bytes)| Msg::B { text, bytes }),
        ]
    }

    #[test]
    fn over_cap_length_is_refused_from_the_prefix_alone() {
        let mut d = FrameDecoder::new(100);
        d.feed(&1000u32.to_be_bytes());
        assert_eq!(
            d.next_frame::<Msg>(),
            Err(FrameError::TooLarge {
                len: 1000,
                max: 100
            })
        );
        assert!(d.next_frame::<Msg>().is_err(), "stays failed");
    }

    #[test]
    fn encoder_refuses_over_cap_values() {
        let mut out = Vec::new();
        let big = Msg::B {
            text: String::new(),
            bytes: vec![0; 500],
        };
        assert!(matches!(
            encode_frame(&big, 100, &mut out),
            Err(FrameError::TooLarge { .. })
        ));
        assert!(out.is_empty());
    }

    #[test]
    fn garbage_body_is_a_decode_error() {
        let mut d = FrameDecoder::new(100);
        d.feed(&[0, 0, 0, 2, 0xFF, 0xFF]);
        assert!(matches!(d.next_frame::<Msg>(), Err(FrameError::Decode(_))));
    }

    proptest! {
        #[test]
        fn frames_round_trip_at_any_split(msgs in proptest::collection::vec(msg(), 1..10), cut in any::<prop::sample::Index>()) {
            let mut stream = Vec::new();
            for m in &msgs {
                encode_frame(m, MAX_FRAME_LEN, &mut stream).expect("fits");
            }
            let cut = cut.index(stream.len() + 1);
            let mut d = FrameDecoder::new(MAX_FRAME_LEN);
            let mut got = Vec::new();
            for part in [&stream[..cut], &stream[cut..]] {
                d.feed(part);
                while let Some(m) = d.next_frame::<Msg>().expect("valid") {
                    got.push(m);
                }
            }
            prop_assert_eq!(got, msgs);
            prop_assert!(d.is_idle());
        }

        #[test]
        fn decoder_never_panics(bytes in proptest::collection::vec(any::<u8>(), 0..300)) {
            let mut d = FrameDecoder::new(256);
            d.feed(&bytes);
            while let Ok(Some(_)) = d.next_frame::<Msg>() {}
        }
    }
}
