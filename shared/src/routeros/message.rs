//! What sentences mean: requests sent to a router and the replies it sends back.
//!
//! Word kinds, by their first byte:
//! - `/…` the command (first word of a request), `!…` the reply type (first word of a reply);
//! - `=name=value` an attribute — the value may itself contain `=`, so the split is at the
//!   *second* `=` only;
//! - `.name=value` an API attribute (`.tag`, `.proplist`, `.section`);
//! - `?…` a query word (requests only), kept verbatim without its `?`.

use std::borrow::Cow;

use super::codec::{CodecError, Sentence, Word, encode_sentence};

/// Why a sentence is not a well-formed request or reply.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum MessageError {
    #[error("empty sentence")]
    Empty,
    #[error("unknown reply word {0:?}")]
    UnknownReply(String),
    #[error("request does not start with a command: {0:?}")]
    NotACommand(String),
    #[error("malformed word {0:?}")]
    MalformedWord(String),
}

fn shown(w: &[u8]) -> String {
    let s = String::from_utf8_lossy(w);
    if s.len() > 64 {
        format!("{}…", &s[..s.floor_char_boundary(64)])
    } else {
        s.into_owned()
    }
}

/// Ordered `name → value` pairs, bytes kept as they came.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Attributes(Vec<(Word, Word)>);

impl Attributes {
    pub fn new() -> Self {
        Attributes(Vec::new())
    }

    /// The first value for `name`.
    pub fn get(&self, name: &str) -> Option<&[u8]> {
        self.0
            .iter()
            .find(|(k, _)| k == name.as_bytes())
            .map(|(_, v)| v.as_slice())
    }

    /// The value for `name` as text, for display and for values that are ASCII by nature (ids,
    /// numbers, durations). Bytes that are not UTF-8 are replaced, so never write this back.
    pub fn get_str(&self, name: &str) -> Option<Cow<'_, str>> {
        self.get(name).map(String::from_utf8_lossy)
    }

    /// Sets `name`, replacing an earlier value.
    pub fn set(&mut self, name: impl Into<Word>, value: impl Into<Word>) {
        let (name, value) = (name.into(), value.into());
        match self.0.iter_mut().find(|(k, _)| *k == name) {
            Some(slot) => slot.1 = value,
            None => self.0.push((name, value)),
        }
    }

    pub fn remove(&mut self, name: &str) -> Option<Word> {
        let i = self.0.iter().position(|(k, _)| k == name.as_bytes())?;
        Some(self.0.remove(i).1)
    }

    pub fn iter(&self) -> impl Iterator<Item = (&[u8], &[u8])> {
        self.0.iter().map(|(k, v)| (k.as_slice(), v.as_slice()))
    }

    pub fn len(&self) -> usize {
        self.0.len()
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// Appends `{lead}name=value` words: `lead` is `=` for attributes, empty for API
    /// attributes (whose names carry their own dot).
    fn push_words(&self, lead: &[u8], out: &mut Sentence) {
        for (k, v) in &self.0 {
            let mut w = Vec::with_capacity(lead.len() + k.len() + v.len() + 1);
            w.extend_from_slice(lead);
            w.extend_from_slice(k);
            w.push(b'=');
            w.extend_from_slice(v);
            out.push(w);
        }
    }
}

impl<K: Into<Word>, V: Into<Word>> FromIterator<(K, V)> for Attributes {
    fn from_iter<I: IntoIterator<Item = (K, V)>>(iter: I) -> Self {
        let mut a = Attributes::new();
        for (k, v) in iter {
            a.set(k, v);
        }
        a
    }
}

/// Splits `=name=value` (without its leading `=`) at the first `=` of the rest.
fn split_attribute(rest: &[u8], whole: &[u8]) -> Result<(Word, Word), MessageError> {
    let eq = rest
        .iter()
        .position(|&b| b == b'=')
        .ok_or_else(|| MessageError::MalformedWord(shown(whole)))?;
    if eq == 0 {
        return Err(MessageError::MalformedWord(shown(whole)));
    }
    Ok((rest[..eq].to_vec(), rest[eq + 1..].to_vec()))
}

/// Splits `.name=value` (the name keeps its dot).
fn split_api(word: &[u8]) -> Result<(Word, Word), MessageError> {
    let eq = word
        .iter()
        .position(|&b| b == b'=')
        .ok_or_else(|| MessageError::MalformedWord(shown(word)))?;
    if eq < 2 {
        return Err(MessageError::MalformedWord(shown(word)));
    }
    Ok((word[..eq].to_vec(), word[eq + 1..].to_vec()))
}

/// A command sent to the router.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Request {
    /// `/ip/hotspot/user/add`, `/login`, `/cancel`…
    pub command: Word,
    /// `=name=value` words.
    pub attrs: Attributes,
    /// `.tag=`, `.proplist=` words (names keep their dot).
    pub api: Attributes,
    /// Query words without their leading `?`, in order (`name=x`, `-name`, `#|`).
    pub queries: Vec<Word>,
}

impl Request {
    pub fn new(command: &str) -> Self {
        Request {
            command: command.as_bytes().to_vec(),
            ..Request::default()
        }
    }

    pub fn attr(mut self, name: &str, value: impl Into<Word>) -> Self {
        self.attrs.set(name, value);
        self
    }

    /// A query word, without the `?`: `name=abc`, `-disabled`, `#|`.
    pub fn query(mut self, q: impl Into<Word>) -> Self {
        self.queries.push(q.into());
        self
    }

    pub fn proplist(mut self, props: &[&str]) -> Self {
        self.api.set(".proplist", props.join(","));
        self
    }

    pub fn with_tag(mut self, tag: impl Into<Word>) -> Self {
        self.api.set(".tag", tag);
        self
    }

    pub fn tag(&self) -> Option<&[u8]> {
        self.api.get(".tag")
    }

    /// The requested property names, from `.proplist=` or the `=.proplist=` form some clients
    /// (librouteros among them) send.
    pub fn proplist_names(&self) -> Option<Vec<&[u8]>> {
        let v = self
            .api
            .get(".proplist")
            .or_else(|| self.attrs.get(".proplist"))?;
        Some(v.split(|&b| b == b',').filter(|p| !p.is_empty()).collect())
    }

    pub fn to_sentence(&self) -> Sentence {
        let mut s = vec![self.command.clone()];
        self.attrs.push_words(b"=", &mut s);
        self.api.push_words(b"", &mut s);
        s.extend(self.queries.iter().map(|q| {
            let mut w = Vec::with_capacity(q.len() + 1);
            w.push(b'?');
            w.extend_from_slice(q);
            w
        }));
        s
    }

    pub fn encode(&self, out: &mut Vec<u8>) -> Result<(), CodecError> {
        encode_sentence(&self.to_sentence(), out)
    }

    pub fn parse(sentence: &[Word]) -> Result<Request, MessageError> {
        let (first, rest) = sentence.split_first().ok_or(MessageError::Empty)?;
        if first.first() != Some(&b'/') {
            return Err(MessageError::NotACommand(shown(first)));
        }
        let mut r = Request {
            command: first.clone(),
            ..Request::default()
        };
        for w in rest {
            match w.first() {
                Some(b'=') => {
                    let (k, v) = split_attribute(&w[1..], w)?;
                    r.attrs.set(k, v);
                }
                Some(b'.') => {
                    let (k, v) = split_api(w)?;
                    r.api.set(k, v);
                }
                Some(b'?') => r.queries.push(w[1..].to_vec()),
                _ => return Err(MessageError::MalformedWord(shown(w))),
            }
        }
        Ok(r)
    }
}

/// The reply types.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ReplyKind {
    /// One data item.
    Re,
    /// End of a command (may carry attributes such as `=ret=`).
    Done,
    /// The command failed; a `!done` follows.
    Trap,
    /// The router closes the connection; nothing more comes.
    Fatal,
    /// RouterOS 7.18+: the command has no items (a `!done` follows).
    Empty,
}

impl ReplyKind {
    pub fn word(self) -> &'static [u8] {
        match self {
            ReplyKind::Re => b"!re",
            ReplyKind::Done => b"!done",
            ReplyKind::Trap => b"!trap",
            ReplyKind::Fatal => b"!fatal",
            ReplyKind::Empty => b"!empty",
        }
    }

    fn from_word(w: &[u8]) -> Option<ReplyKind> {
        Some(match w {
            b"!re" => ReplyKind::Re,
            b"!done" => ReplyKind::Done,
            b"!trap" => ReplyKind::Trap,
            b"!fatal" => ReplyKind::Fatal,
            b"!empty" => ReplyKind::Empty,
            _ => return None,
        })
    }
}

/// `=category=` of a `!trap`, as MikroTik's API manual lists them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum TrapCategory {
    MissingItemOrCommand,
    ArgumentValueFailure,
    ExecutionInterrupted,
    ScriptingFailure,
    GeneralFailure,
    ApiFailure,
    TtyFailure,
    ReturnValue,
    Other(u8),
}

impl TrapCategory {
    pub fn code(self) -> u8 {
        match self {
            TrapCategory::MissingItemOrCommand => 0,
            TrapCategory::ArgumentValueFailure => 1,
            TrapCategory::ExecutionInterrupted => 2,
            TrapCategory::ScriptingFailure => 3,
            TrapCategory::GeneralFailure => 4,
            TrapCategory::ApiFailure => 5,
            TrapCategory::TtyFailure => 6,
            TrapCategory::ReturnValue => 7,
            TrapCategory::Other(n) => n,
        }
    }

    pub fn from_code(n: u8) -> TrapCategory {
        match n {
            0 => TrapCategory::MissingItemOrCommand,
            1 => TrapCategory::ArgumentValueFailure,
            2 => TrapCategory::ExecutionInterrupted,
            3 => TrapCategory::ScriptingFailure,
            4 => TrapCategory::GeneralFailure,
            5 => TrapCategory::ApiFailure,
            6 => TrapCategory::TtyFailure,
            7 => TrapCategory::ReturnValue,
            n => TrapCategory::Other(n),
        }
    }
}

/// One reply sentence.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Reply {
    pub kind: ReplyKind,
    /// `.tag` of the command this answers.
    pub tag: Option<Word>,
    /// `=name=value` words (`.id`, `ret`, `message`, `category`, item properties).
    pub attrs: Attributes,
    /// Other API attributes (`.section`), names keeping their dot.
    pub api: Attributes,
    /// Free words that are not attributes: the reason of a `!fatal`.
    pub text: Vec<Word>,
}

impl Reply {
    pub fn new(kind: ReplyKind) -> Self {
        Reply {
            kind,
            tag: None,
            attrs: Attributes::new(),
            api: Attributes::new(),
            text: Vec::new(),
        }
    }

    pub fn re(attrs: Attributes) -> Self {
        Reply {
            attrs,
            ..Reply::new(ReplyKind::Re)
        }
    }

    pub fn done() -> Self {
        Reply::new(ReplyKind::Done)
    }

    pub fn trap(category: Option<TrapCategory>, message: impl Into<Word>) -> Self {
        let mut r = Reply::new(ReplyKind::Trap);
        if let Some(c) = category {
            r.attrs.set("category", c.code().to_string());
        }
        r.attrs.set("message", message);
        r
    }

    pub fn fatal(reason: impl Into<Word>) -> Self {
        Reply {
            text: vec![reason.into()],
            ..Reply::new(ReplyKind::Fatal)
        }
    }

    pub fn with_tag(mut self, tag: Option<&[u8]>) -> Self {
        self.tag = tag.map(<[u8]>::to_vec);
        self
    }

    /// `=message=` of a `!trap`, or the reason of a `!fatal`.
    pub fn message(&self) -> Option<Cow<'_, str>> {
        match self.kind {
            ReplyKind::Fatal => self.text.first().map(|w| String::from_utf8_lossy(w)),
            _ => self.attrs.get_str("message"),
        }
    }

    /// `=category=` of a `!trap`; `None` when absent or not a number.
    pub fn category(&self) -> Option<TrapCategory> {
        let v = self.attrs.get_str("category")?;
        v.parse::<u8>().ok().map(TrapCategory::from_code)
    }

    pub fn to_sentence(&self) -> Sentence {
        let mut s = vec![self.kind.word().to_vec()];
        s.extend(self.text.iter().filter(|w| !w.is_empty()).cloned());
        self.attrs.push_words(b"=", &mut s);
        self.api.push_words(b"", &mut s);
        if let Some(tag) = &self.tag {
            let mut w = b".tag=".to_vec();
            w.extend_from_slice(tag);
            s.push(w);
        }
        s
    }

    pub fn encode(&self, out: &mut Vec<u8>) -> Result<(), CodecError> {
        encode_sentence(&self.to_sentence(), out)
    }

    pub fn parse(sentence: &[Word]) -> Result<Reply, MessageError> {
        let (first, rest) = sentence.split_first().ok_or(MessageError::Empty)?;
        let kind =
            ReplyKind::from_word(first).ok_or_else(|| MessageError::UnknownReply(shown(first)))?;
        let mut r = Reply::new(kind);
        for w in rest {
            match w.first() {
                Some(b'=') => {
                    let (k, v) = split_attribute(&w[1..], w)?;
                    r.attrs.set(k, v);
                }
                Some(b'.') if w.contains(&b'=') => {
                    let (k, v) = split_api(w)?;
                    if k == b".tag" {
                        r.tag = Some(v);
                    } else {
                        r.api.set(k, v);
                    }
                }
                _ if kind == ReplyKind::Fatal => r.text.push(w.clone()),
                _ => return Err(MessageError::MalformedWord(shown(w))),
            }
        }
        Ok(r)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::routeros::codec::Decoder;
    use proptest::prelude::*;

    fn words(ws: &[&[u8]]) -> Sentence {
        ws.iter().map(|w| w.to_vec()).collect()
    }

    #[test]
    fn value_with_equals_splits_at_second_equals_only() {
        let r = Reply::parse(&words(&[b"!re", b"=comment=a=b==c", b"=.id=*1A"])).expect("valid");
        assert_eq!(r.attrs.get("comment"), Some(&b"a=b==c"[..]));
        assert_eq!(r.attrs.get(".id"), Some(&b"*1A"[..]));
    }

    #[test]
    fn empty_value_is_kept() {
        let r = Reply::parse(&words(&[b"!re", b"=comment="])).expect("valid");
        assert_eq!(r.attrs.get("comment"), Some(&b""[..]));
    }

    #[test]
    fn non_utf8_values_survive_a_round_trip() {
        // "Café" in Windows-1252, as a router with that code page sends it.
        let s = words(&[b"!re", b"=comment=Caf\xe9", b".tag=9"]);
        let r = Reply::parse(&s).expect("valid");
        assert_eq!(r.attrs.get("comment"), Some(&b"Caf\xe9"[..]));
        assert_eq!(r.attrs.get_str("comment").as_deref(), Some("Caf\u{FFFD}"));
        assert_eq!(r.to_sentence(), s);
    }

    #[test]
    fn trap_carries_category_and_message() {
        let s = words(&[
            b"!trap",
            b"=category=1",
            b"=message=failure: already have user with this name for this server",
            b".tag=4",
        ]);
        let r = Reply::parse(&s).expect("valid");
        assert_eq!(r.kind, ReplyKind::Trap);
        assert_eq!(r.category(), Some(TrapCategory::ArgumentValueFailure));
        assert_eq!(
            r.message().as_deref(),
            Some("failure: already have user with this name for this server")
        );
        assert_eq!(r.tag.as_deref(), Some(&b"4"[..]));
    }

    #[test]
    fn fatal_reason_is_a_bare_word() {
        let r = Reply::parse(&words(&[b"!fatal", b"not logged in"])).expect("valid");
        assert_eq!(r.kind, ReplyKind::Fatal);
        assert_eq!(r.message().as_deref(), Some("not logged in"));
        assert_eq!(
            Reply::fatal("session terminated on request").to_sentence(),
            words(&[b"!fatal", b"session terminated on request"])
        );
    }

    #[test]
    fn empty_reply_of_7_18() {
        let r = Reply::parse(&words(&[b"!empty", b".tag=3"])).expect("valid");
        assert_eq!(r.kind, ReplyKind::Empty);
        assert_eq!(r.tag.as_deref(), Some(&b"3"[..]));
    }

    #[test]
    fn section_is_an_api_attribute() {
        let r = Reply::parse(&words(&[b"!re", b".section=2", b"=name=x"])).expect("valid");
        assert_eq!(r.api.get(".section"), Some(&b"2"[..]));
    }

    #[test]
    fn unknown_reply_and_bad_words_are_errors() {
        assert!(matches!(
            Reply::parse(&words(&[b"!bogus"])),
            Err(MessageError::UnknownReply(_))
        ));
        assert!(matches!(
            Reply::parse(&words(&[b"!re", b"=novalue"])),
            Err(MessageError::MalformedWord(_))
        ));
        assert!(matches!(
            Reply::parse(&words(&[b"!re", b"==x"])),
            Err(MessageError::MalformedWord(_))
        ));
        assert!(matches!(
            Reply::parse(&words(&[b"!done", b"bare"])),
            Err(MessageError::MalformedWord(_))
        ));
        assert_eq!(Reply::parse(&[]), Err(MessageError::Empty));
    }

    #[test]
    fn request_words_in_all_kinds() {
        let req = Request::new("/ip/hotspot/user/print")
            .proplist(&[".id", "name", "uptime"])
            .query("name=V7K2")
            .query("-disabled")
            .query("#|")
            .with_tag("12");
        let s = req.to_sentence();
        assert_eq!(
            s,
            words(&[
                b"/ip/hotspot/user/print",
                b".proplist=.id,name,uptime",
                b".tag=12",
                b"?name=V7K2",
                b"?-disabled",
                b"?#|"
            ])
        );
        let back = Request::parse(&s).expect("valid");
        assert_eq!(back, req);
        assert_eq!(back.tag(), Some(&b"12"[..]));
        assert_eq!(
            back.proplist_names(),
            Some(vec![&b".id"[..], b"name", b"uptime"])
        );
    }

    #[test]
    fn proplist_as_attribute_form() {
        let r = Request::parse(&words(&[
            b"/system/resource/print",
            b"=.proplist=uptime,version",
        ]))
        .expect("valid");
        assert_eq!(r.proplist_names(), Some(vec![&b"uptime"[..], b"version"]));
    }

    #[test]
    fn request_must_start_with_command() {
        assert!(matches!(
            Request::parse(&words(&[b"=name=x"])),
            Err(MessageError::NotACommand(_))
        ));
    }

    fn bytes_without(forbidden: &'static [u8]) -> impl Strategy<Value = Vec<u8>> {
        proptest::collection::vec(
            any::<u8>().prop_filter("forbidden", move |b| !forbidden.contains(b)),
            1..20,
        )
    }

    proptest! {
        #[test]
        fn reply_round_trips_through_bytes(
            kind in prop_oneof![Just(ReplyKind::Re), Just(ReplyKind::Done), Just(ReplyKind::Trap), Just(ReplyKind::Empty)],
            attrs in proptest::collection::vec((bytes_without(b"="), proptest::collection::vec(any::<u8>(), 0..30)), 0..6),
            tag in proptest::option::of(proptest::collection::vec(any::<u8>(), 0..6)),
        ) {
            let mut r = Reply::new(kind);
            for (k, v) in attrs { r.attrs.set(k, v); }
            r.tag = tag;
            let mut bytes = Vec::new();
            r.encode(&mut bytes).expect("encodable");
            let mut d = Decoder::default();
            d.feed(&bytes);
            let s = d.next_sentence().expect("valid").expect("whole");
            prop_assert_eq!(Reply::parse(&s).expect("parses"), r);
        }

        #[test]
        fn parse_never_panics(s in proptest::collection::vec(proptest::collection::vec(any::<u8>(), 0..12), 0..6)) {
            let _ = Reply::parse(&s);
            let _ = Request::parse(&s);
        }
    }
}
