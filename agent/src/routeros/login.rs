//! The login exchange, on the raw stream before the session starts pipelining.
//!
//! Login is strictly one request at a time and untagged, so it runs as a plain
//! write-then-read loop here rather than through the tag dispatcher: the dispatcher only starts
//! once we know the session is authenticated. One code path serves both methods the way
//! mature clients do it: send `/login =name= =password=`; RouterOS 6.43+ answers `!done`, older
//! routers ignore the password and answer `!done =ret=<challenge>`, which we then answer with
//! the MD5 response.

use hotspot_shared::routeros::{Decoder, Reply, ReplyKind, Request};
use md5::{Digest, Md5};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};

use super::config::SecretString;
use super::error::{RouterError, is_bad_login};

/// Most replies we read for one login request before calling the router confused.
const MAX_LOGIN_REPLIES: usize = 16;

/// Logs in as `user`. The decoder keeps whatever arrived after the final `!done`.
pub(crate) async fn login<S>(
    stream: &mut S,
    decoder: &mut Decoder,
    user: &str,
    password: &SecretString,
) -> Result<(), RouterError>
where
    S: AsyncRead + AsyncWrite + Unpin,
{
    let first = Request::new("/login")
        .attr("name", user)
        .attr("password", password.expose());
    let done = exchange(stream, decoder, &first).await?;
    let Some(challenge) = done.attrs.get("ret") else {
        return Ok(());
    };
    let response = legacy_response(password.expose().as_bytes(), challenge)?;
    let second = Request::new("/login")
        .attr("name", user)
        .attr("response", response);
    exchange(stream, decoder, &second).await?;
    Ok(())
}

/// The pre-6.43 answer to a challenge: `00` then the hex MD5 of `0x00 ‖ password ‖ challenge`,
/// where the challenge is the hex-decoded `=ret=`.
pub(crate) fn legacy_response(
    password: &[u8],
    challenge_hex: &[u8],
) -> Result<String, RouterError> {
    let challenge = hex::decode(challenge_hex)
        .map_err(|e| RouterError::Protocol(format!("login challenge is not hex: {e}")))?;
    let mut md5 = Md5::new();
    md5.update([0u8]);
    md5.update(password);
    md5.update(&challenge);
    Ok(format!("00{}", hex::encode(md5.finalize())))
}

/// Sends one request and reads replies up to its `!done`.
async fn exchange<S>(
    stream: &mut S,
    decoder: &mut Decoder,
    request: &Request,
) -> Result<Reply, RouterError>
where
    S: AsyncRead + AsyncWrite + Unpin,
{
    let mut out = Vec::new();
    request.encode(&mut out)?;
    stream
        .write_all(&out)
        .await
        .map_err(|e| RouterError::ConnectionLost {
            reason: format!("sending login: {e}"),
        })?;
    stream
        .flush()
        .await
        .map_err(|e| RouterError::ConnectionLost {
            reason: format!("sending login: {e}"),
        })?;

    let mut trap: Option<RouterError> = None;
    let mut replies = 0usize;
    let mut buf = vec![0u8; 4096];
    loop {
        while let Some(sentence) = decoder.next_sentence()? {
            replies += 1;
            if replies > MAX_LOGIN_REPLIES {
                return Err(RouterError::Protocol(format!(
                    "more than {MAX_LOGIN_REPLIES} replies to /login"
                )));
            }
            let reply = Reply::parse(&sentence)?;
            match reply.kind {
                ReplyKind::Done => return trap.map_or(Ok(reply), Err),
                ReplyKind::Trap => {
                    let message = reply.message().map(|m| m.into_owned()).unwrap_or_default();
                    if trap.is_none() {
                        trap = Some(if is_bad_login(&message) {
                            RouterError::BadCredentials
                        } else {
                            RouterError::from_trap(reply.category(), message)
                        });
                    }
                }
                ReplyKind::Fatal => return Err(RouterError::Fatal(fatal_reason(&reply))),
                ReplyKind::Re | ReplyKind::Empty => {}
            }
        }
        let n = stream
            .read(&mut buf)
            .await
            .map_err(|e| RouterError::ConnectionLost {
                reason: format!("reading login reply: {e}"),
            })?;
        if n == 0 {
            // A login refused by the router's session limit looks like this too.
            return Err(match trap {
                Some(RouterError::BadCredentials) => RouterError::BadCredentials,
                _ => RouterError::ConnectionLost {
                    reason: "router closed the connection during login".into(),
                },
            });
        }
        decoder.feed(&buf[..n]);
    }
}

/// The reason of a `!fatal`: its bare word, or `=message=` as some versions send.
pub(crate) fn fatal_reason(reply: &Reply) -> String {
    reply
        .message()
        .or_else(|| reply.attrs.get_str("message"))
        .map(|m| m.into_owned())
        .unwrap_or_else(|| "no reason given".into())
}

#[cfg(test)]
mod tests {
    use super::*;
    use hotspot_shared::routeros::Attributes;
    use tokio::io::duplex;

    #[test]
    fn legacy_response_fixed_vectors() {
        // Derived by hand with python3:
        //   '00' + hashlib.md5(b'\x00' + pw + bytes.fromhex(ch)).hexdigest()
        let cases: [(&[u8], &[u8], &str); 3] = [
            (
                b"sim-password",
                b"0123456789abcdef0123456789abcdef",
                "001d1dc26c9eb5b660237bfa95bececc7a",
            ),
            (
                b"",
                b"00000000000000000000000000000000",
                "00f3c8bdb6b9df478f227af2ce61c8a5a1",
            ),
            (
                b"secret",
                b"ebddd18775b4ff89d3ab6d6ab14bca4c",
                "00ec98227aa5bdb033429810730518f2be",
            ),
        ];
        for (pw, ch, want) in cases {
            assert_eq!(legacy_response(pw, ch).expect("hex challenge"), want);
        }
    }

    #[test]
    fn legacy_response_from_first_principles() {
        let challenge = [0x5au8; 16];
        let mut input = vec![0u8];
        input.extend_from_slice(b"pw");
        input.extend_from_slice(&challenge);
        let want = format!("00{}", hex::encode(Md5::digest(&input)));
        assert_eq!(
            legacy_response(b"pw", hex::encode(challenge).as_bytes()).expect("hex"),
            want
        );
        assert_eq!(want.len(), 34);
    }

    #[test]
    fn bad_challenge_is_a_protocol_error() {
        assert!(matches!(
            legacy_response(b"pw", b"not-hex"),
            Err(RouterError::Protocol(_))
        ));
    }

    /// Plays a router: answers each request read from `server` with the given replies.
    async fn serve(mut server: tokio::io::DuplexStream, script: Vec<Vec<Reply>>) -> Vec<Request> {
        let mut decoder = Decoder::default();
        let mut seen = Vec::new();
        let mut buf = vec![0u8; 1024];
        for replies in script {
            let sentence = loop {
                if let Some(s) = decoder.next_sentence().expect("valid") {
                    break s;
                }
                let n = server.read(&mut buf).await.expect("read");
                decoder.feed(&buf[..n]);
            };
            seen.push(Request::parse(&sentence).expect("request"));
            let mut out = Vec::new();
            for r in replies {
                r.encode(&mut out).expect("encode");
            }
            server.write_all(&out).await.expect("write");
        }
        seen
    }

    #[tokio::test]
    async fn legacy_login_sends_the_md5_response() {
        let (mut client, server) = duplex(4096);
        let ret: Attributes = [("ret", "0123456789abcdef0123456789abcdef")]
            .into_iter()
            .collect();
        let challenge = Reply {
            attrs: ret,
            ..Reply::done()
        };
        let router = tokio::spawn(serve(server, vec![vec![challenge], vec![Reply::done()]]));
        let mut decoder = Decoder::default();
        login(&mut client, &mut decoder, "admin", &"sim-password".into())
            .await
            .expect("logged in");
        let seen = router.await.expect("router");
        assert_eq!(
            seen[1].attrs.get("response"),
            Some(&b"001d1dc26c9eb5b660237bfa95bececc7a"[..])
        );
        assert_eq!(seen[1].attrs.get("name"), Some(&b"admin"[..]));
    }

    #[tokio::test]
    async fn trap_on_login_is_bad_credentials() {
        let (mut client, server) = duplex(4096);
        let trap = Reply::trap(None, "invalid user name or password (6)");
        tokio::spawn(serve(server, vec![vec![trap, Reply::done()]]));
        let mut decoder = Decoder::default();
        let err = login(&mut client, &mut decoder, "admin", &"p4ss-xyz".into())
            .await
            .expect_err("refused");
        assert_eq!(err, RouterError::BadCredentials);
        assert!(!err.to_string().contains("p4ss-xyz"));
    }
}
