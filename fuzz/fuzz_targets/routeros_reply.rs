//! What RouterOS sentences mean: replies from a router (`Reply::parse`: `!re`, `!done`, `!trap`,
//! `!fatal`, `!empty`) and requests from a client (`Request::parse`, the simulator's side).
//!
//! The bytes go through the real sentence decoder first, as on a connection. Asserts, for every
//! sentence that parses: its words encode again (none is empty); the encoding decodes to the
//! same words and parses to the same value (what the agent read is what it would write back:
//! values are bytes and survive exactly); a reply's accessors do not panic.
#![no_main]

use hotspot_shared::routeros::codec::{Decoder, Sentence};
use hotspot_shared::routeros::{Reply, ReplyKind, Request, encode_sentence};
use libfuzzer_sys::fuzz_target;

fn reencode(words: &Sentence) -> Sentence {
    let mut bytes = Vec::new();
    encode_sentence(words, &mut bytes).expect("the words of a parsed value are not empty");
    let mut d = Decoder::default();
    d.feed(&bytes);
    let back = d
        .next_sentence()
        .expect("own encoding decodes")
        .expect("own encoding is whole");
    assert!(d.is_idle());
    back
}

fn check(sentence: &Sentence) {
    if let Ok(reply) = Reply::parse(sentence) {
        let words = reply.to_sentence();
        assert_eq!(words[0], reply.kind.word());
        if reply.kind != ReplyKind::Fatal {
            assert!(reply.text.is_empty(), "only !fatal has free words");
        }
        let back = reencode(&words);
        assert_eq!(back, words);
        assert_eq!(
            Reply::parse(&back).as_ref(),
            Ok(&reply),
            "parse(encode(r)) == r"
        );
        let _ = (reply.message(), reply.category());
    }
    if let Ok(request) = Request::parse(sentence) {
        let words = request.to_sentence();
        let back = reencode(&words);
        assert_eq!(back, words);
        assert_eq!(
            Request::parse(&back).as_ref(),
            Ok(&request),
            "parse(encode(r)) == r"
        );
        let _ = (request.tag(), request.proplist_names());
    }
}

fuzz_target!(|data: &[u8]| {
    let mut d = Decoder::default();
    d.feed(data);
    while let Ok(Some(sentence)) = d.next_sentence() {
        check(&sentence);
    }
});
