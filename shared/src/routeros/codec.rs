//! Words and sentences: the encoder and the incremental, bounded decoder.
//!
//! A sentence is a list of non-empty words ended by the empty word (a single `0x00`). The
//! decoder is fed whatever bytes arrived — cut anywhere, even inside a length prefix — and yields
//! whole sentences. It checks every length against [`Limits`] as soon as the prefix is readable,
//! before it waits for (or allocates) the body, so a hostile peer announcing a 4 GiB word costs
//! nothing. After an error the stream is out of step and the decoder stays failed.

use super::length::{self, LengthError};

/// One word: raw bytes, as on the wire.
pub type Word = Vec<u8>;
/// One sentence: its words, without the terminating empty word.
pub type Sentence = Vec<Word>;

/// Hard bounds on what a decoder accepts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// Largest single word, in bytes.
    pub max_word_len: u32,
    /// Largest sentence: sum of its words' lengths, in bytes.
    pub max_sentence_len: usize,
    /// Most words in one sentence.
    pub max_words: usize,
}

impl Default for Limits {
    /// Generous for real traffic (a hotspot user's `!re` is a few hundred bytes), small enough
    /// that one connection cannot make us hold more than a few MiB.
    fn default() -> Self {
        Limits {
            max_word_len: 64 * 1024,
            max_sentence_len: 1024 * 1024,
            max_words: 4096,
        }
    }
}

/// Why bytes could not be turned into sentences, or sentences into bytes.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CodecError {
    #[error(transparent)]
    Length(#[from] LengthError),
    #[error("word of {len} bytes exceeds the cap of {max}")]
    WordTooLong { len: u64, max: u64 },
    #[error("sentence exceeds the cap of {max} bytes")]
    SentenceTooLong { max: usize },
    #[error("sentence exceeds the cap of {max} words")]
    TooManyWords { max: usize },
    #[error("empty word inside a sentence (it would end the sentence early)")]
    EmptyWord,
}

/// Appends one sentence (its words then the empty word) to `out`.
///
/// Fails on an empty word or a word longer than `u32::MAX`; `out` is left unchanged then.
pub fn encode_sentence<W: AsRef<[u8]>>(words: &[W], out: &mut Vec<u8>) -> Result<(), CodecError> {
    for w in words {
        let w = w.as_ref();
        if w.is_empty() {
            return Err(CodecError::EmptyWord);
        }
        if u32::try_from(w.len()).is_err() {
            return Err(CodecError::WordTooLong {
                len: w.len() as u64,
                max: u64::from(u32::MAX),
            });
        }
    }
    out.reserve(words.iter().map(|w| w.as_ref().len() + 5).sum::<usize>() + 1);
    for w in words {
        let w = w.as_ref();
        // Checked above: every word fits in u32.
        length::encode(w.len() as u32, out);
        out.extend_from_slice(w);
    }
    out.push(0);
    Ok(())
}

/// Incremental sentence decoder. Feed bytes with [`Decoder::feed`], take sentences with
/// [`Decoder::next_sentence`] until it answers `Ok(None)`, then feed more.
#[derive(Debug)]
pub struct Decoder {
    limits: Limits,
    buf: Vec<u8>,
    /// Bytes of `buf` already consumed.
    pos: usize,
    /// Words of the sentence being read.
    words: Sentence,
    sentence_len: usize,
    failed: Option<CodecError>,
}

impl Default for Decoder {
    fn default() -> Self {
        Decoder::new(Limits::default())
    }
}

impl Decoder {
    pub fn new(limits: Limits) -> Self {
        Decoder {
            limits,
            buf: Vec::new(),
            pos: 0,
            words: Vec::new(),
            sentence_len: 0,
            failed: None,
        }
    }

    pub fn limits(&self) -> Limits {
        self.limits
    }

    /// Appends received bytes. Callers drain with [`Decoder::next_sentence`] before feeding
    /// more, so the buffer holds at most one read plus one partial word.
    pub fn feed(&mut self, data: &[u8]) {
        if self.pos > 0 && self.pos == self.buf.len() {
            self.buf.clear();
            self.pos = 0;
        } else if self.pos > 4096 && self.pos * 2 > self.buf.len() {
            self.buf.drain(..self.pos);
            self.pos = 0;
        }
        self.buf.extend_from_slice(data);
    }

    /// True when no partial sentence is held: the stream may end here without losing anything.
    pub fn is_idle(&self) -> bool {
        self.words.is_empty() && self.pos == self.buf.len()
    }

    /// The next whole sentence, `Ok(None)` when more bytes are needed.
    pub fn next_sentence(&mut self) -> Result<Option<Sentence>, CodecError> {
        if let Some(e) = &self.failed {
            return Err(e.clone());
        }
        match self.advance() {
            Err(e) => {
                self.failed = Some(e.clone());
                Err(e)
            }
            ok => ok,
        }
    }

    fn advance(&mut self) -> Result<Option<Sentence>, CodecError> {
        loop {
            let rest = &self.buf[self.pos..];
            let Some((len, n)) = length::decode(rest)? else {
                return Ok(None);
            };
            if len == 0 {
                self.pos += n;
                self.sentence_len = 0;
                return Ok(Some(std::mem::take(&mut self.words)));
            }
            if len > self.limits.max_word_len {
                return Err(CodecError::WordTooLong {
                    len: u64::from(len),
                    max: u64::from(self.limits.max_word_len),
                });
            }
            let len = len as usize;
            if self.sentence_len + len > self.limits.max_sentence_len {
                return Err(CodecError::SentenceTooLong {
                    max: self.limits.max_sentence_len,
                });
            }
            if self.words.len() >= self.limits.max_words {
                return Err(CodecError::TooManyWords {
                    max: self.limits.max_words,
                });
            }
            if rest.len() < n + len {
                return Ok(None);
            }
            self.words.push(rest[n..n + len].to_vec());
            self.sentence_len += len;
            self.pos += n + len;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn encode(s: &[Word]) -> Vec<u8> {
        let mut out = Vec::new();
        encode_sentence(s, &mut out).expect("valid sentence");
        out
    }

    fn decode_all(d: &mut Decoder) -> Vec<Sentence> {
        let mut v = Vec::new();
        while let Some(s) = d.next_sentence().expect("valid stream") {
            v.push(s);
        }
        v
    }

    #[test]
    fn login_sentence_bytes() {
        let s: Sentence = vec![b"/login".to_vec(), b"=name=admin".to_vec()];
        let bytes = encode(&s);
        assert_eq!(bytes, b"\x06/login\x0b=name=admin\x00");
    }

    #[test]
    fn byte_by_byte_feeding_yields_each_sentence_once() {
        let a: Sentence = vec![b"!re".to_vec(), vec![b'x'; 200], b".tag=1".to_vec()];
        let b: Sentence = vec![b"!done".to_vec()];
        let mut stream = encode(&a);
        stream.extend(encode(&b));
        let mut d = Decoder::default();
        let mut got = Vec::new();
        for byte in stream {
            d.feed(&[byte]);
            got.extend(decode_all(&mut d));
        }
        assert_eq!(got, vec![a, b]);
        assert!(d.is_idle());
    }

    #[test]
    fn oversized_word_is_refused_before_its_body_arrives() {
        let mut d = Decoder::new(Limits {
            max_word_len: 100,
            ..Limits::default()
        });
        d.feed(&[0xF0, 0xFF, 0xFF, 0xFF, 0xFF]); // announces a 4 GiB word, sends nothing else
        assert_eq!(
            d.next_sentence(),
            Err(CodecError::WordTooLong {
                len: u64::from(u32::MAX),
                max: 100
            })
        );
        // Stays failed: the stream is out of step.
        d.feed(b"\x05!done\x00");
        assert!(d.next_sentence().is_err());
    }

    #[test]
    fn sentence_and_word_count_caps() {
        let limits = Limits {
            max_word_len: 10,
            max_sentence_len: 15,
            max_words: 3,
        };
        let mut d = Decoder::new(limits);
        d.feed(&encode(&[b"0123456789".to_vec(), b"0123456789".to_vec()]));
        assert_eq!(
            d.next_sentence(),
            Err(CodecError::SentenceTooLong { max: 15 })
        );

        let mut d = Decoder::new(limits);
        d.feed(&encode(&[
            b"a".to_vec(),
            b"b".to_vec(),
            b"c".to_vec(),
            b"d".to_vec(),
        ]));
        assert_eq!(d.next_sentence(), Err(CodecError::TooManyWords { max: 3 }));
    }

    #[test]
    fn control_byte_is_an_error() {
        let mut d = Decoder::default();
        d.feed(&[0xF8]);
        assert!(matches!(d.next_sentence(), Err(CodecError::Length(_))));
    }

    #[test]
    fn empty_word_cannot_be_encoded() {
        let mut out = vec![1, 2];
        assert_eq!(
            encode_sentence(&[b"/x".to_vec(), Vec::new()], &mut out),
            Err(CodecError::EmptyWord)
        );
        assert_eq!(out, vec![1, 2]);
    }

    #[test]
    fn truncated_stream_is_not_idle() {
        let mut d = Decoder::default();
        let bytes = encode(&[b"!done".to_vec()]);
        d.feed(&bytes[..bytes.len() - 1]);
        assert_eq!(d.next_sentence(), Ok(None));
        assert!(!d.is_idle());
    }

    fn word() -> impl Strategy<Value = Word> {
        prop_oneof![
            proptest::collection::vec(any::<u8>(), 1..40),
            proptest::collection::vec(any::<u8>(), 100..300),
            // Crosses the 2- and 3-byte prefix boundaries.
            (0x3F00usize..0x4100).prop_map(|n| vec![b'v'; n]),
        ]
    }

    fn sentences() -> impl Strategy<Value = Vec<Sentence>> {
        proptest::collection::vec(proptest::collection::vec(word(), 0..8), 1..6)
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(128))]

        #[test]
        fn encode_then_decode_is_identity_at_any_split(
            input in sentences(),
            cuts in proptest::collection::vec(any::<prop::sample::Index>(), 0..8),
        ) {
            let mut stream = Vec::new();
            for s in &input {
                encode_sentence(s, &mut stream).expect("words are non-empty");
            }
            let mut points: Vec<usize> = cuts.iter().map(|i| i.index(stream.len() + 1)).collect();
            points.push(0);
            points.push(stream.len());
            points.sort_unstable();
            let mut d = Decoder::default();
            let mut got = Vec::new();
            for pair in points.windows(2) {
                d.feed(&stream[pair[0]..pair[1]]);
                got.extend(decode_all(&mut d));
            }
            prop_assert_eq!(got, input);
            prop_assert!(d.is_idle());
        }

        #[test]
        fn decoder_never_panics_on_arbitrary_bytes(
            chunks in proptest::collection::vec(proptest::collection::vec(any::<u8>(), 0..64), 0..16),
        ) {
            let limits = Limits { max_word_len: 256, max_sentence_len: 1024, max_words: 16 };
            let mut d = Decoder::new(limits);
            for c in chunks {
                d.feed(&c);
                while let Ok(Some(s)) = d.next_sentence() {
                    prop_assert!(s.len() <= limits.max_words);
                    prop_assert!(s.iter().all(|w| !w.is_empty() && w.len() <= 256));
                }
            }
        }
    }
}
