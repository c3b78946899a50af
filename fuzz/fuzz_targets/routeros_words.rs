//! RouterOS API words and sentences from a router (or, in the simulator, from a client): the
//! word-length prefix (`routeros::length`) and the incremental sentence decoder
//! (`routeros::codec::Decoder`).
//!
//! Asserts: the prefix decoder agrees with the prefix table and with the encoder; the sentence
//! decoder gives the same sentences and the same error whether the bytes come at once or cut
//! anywhere; every sentence respects the limits; an error stays; re-encoding the sentences and
//! decoding that gives them back.
#![no_main]

use hotspot_fuzz::pieces;
use hotspot_shared::routeros::codec::{CodecError, Decoder, Limits, Sentence};
use hotspot_shared::routeros::{encode_sentence, length};
use libfuzzer_sys::fuzz_target;

/// Small enough that the fuzzer reaches every cap with short inputs.
const SMALL: Limits = Limits {
    max_word_len: 300,
    max_sentence_len: 1000,
    max_words: 8,
};

#[derive(Debug, PartialEq)]
struct Outcome {
    sentences: Vec<Sentence>,
    error: Option<CodecError>,
    idle: bool,
}

fn decode(limits: Limits, parts: &[&[u8]]) -> Outcome {
    let mut d = Decoder::new(limits);
    let mut sentences = Vec::new();
    for part in parts {
        d.feed(part);
        loop {
            match d.next_sentence() {
                Ok(Some(s)) => sentences.push(s),
                Ok(None) => break,
                Err(e) => {
                    // Out of step for good: more bytes change nothing.
                    d.feed(b"\x05!done\x00");
                    assert_eq!(d.next_sentence(), Err(e.clone()), "error must stay");
                    return Outcome {
                        sentences,
                        error: Some(e),
                        idle: false,
                    };
                }
            }
        }
    }
    Outcome {
        sentences,
        error: None,
        idle: d.is_idle(),
    }
}

fn check_length_prefix(bytes: &[u8]) {
    match length::decode(bytes) {
        Ok(Some((len, n))) => {
            assert_eq!(Ok(n), length::prefix_len(bytes[0]));
            assert!((1..=5).contains(&n) && n <= bytes.len());
            for cut in 0..n {
                assert_eq!(length::decode(&bytes[..cut]), Ok(None), "cut at {cut}");
            }
            let mut canonical = Vec::new();
            length::encode(len, &mut canonical);
            assert!(canonical.len() <= n, "the encoder uses the shortest form");
            assert_eq!(length::decode(&canonical), Ok(Some((len, canonical.len()))));
        }
        Ok(None) => {
            if let Some(&first) = bytes.first() {
                let n = length::prefix_len(first).expect("a partial prefix has a valid first byte");
                assert!(bytes.len() < n);
            }
        }
        Err(length::LengthError::ControlByte(b)) => {
            assert_eq!(b, bytes[0]);
            assert!(b >= 0xF1);
        }
    }
}

fn check_sentences(limits: Limits, sentences: &[Sentence]) {
    let mut stream = Vec::new();
    for s in sentences {
        assert!(s.len() <= limits.max_words);
        assert!(s.iter().map(Vec::len).sum::<usize>() <= limits.max_sentence_len);
        for w in s {
            assert!(!w.is_empty() && w.len() <= limits.max_word_len as usize);
        }
        encode_sentence(s, &mut stream).expect("decoded words encode");
    }
    let again = decode(limits, &[&stream]);
    assert_eq!(again.sentences, sentences, "decode(encode(s)) == s");
    assert_eq!(again.error, None);
    assert!(again.idle);
}

fuzz_target!(|data: &[u8]| {
    let Some((&seed, stream)) = data.split_first() else {
        return;
    };
    check_length_prefix(stream);
    for limits in [SMALL, Limits::default()] {
        let whole = decode(limits, &[stream]);
        let cut = decode(limits, &pieces(stream, seed));
        assert_eq!(whole, cut, "cutting the input changed the result");
        check_sentences(limits, &whole.sentences);
    }
});
