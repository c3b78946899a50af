//! `/login`, both methods.
//!
//! - RouterOS 6.43 and later: `/login =name=U =password=P` → `!done`.
//! - Before 6.43: `/login` (a name or password sent along is ignored) → `!done =ret=<challenge>`
//!   (16 random bytes, 32 hex digits), then `/login =name=U =response=00<hex MD5(0x00 ++
//!   password ++ challenge)>` → `!done`. RouterOS 6.43–6.49 still answer a bare `/login` with a
//!   challenge, for old clients; RouterOS 7 does not.
//!
//! Bad credentials: `!trap =message=invalid user name or password (6)` from 6.43 on, `cannot log
//! in` before, then `!done`; the session stays open and unauthenticated. The `refuse_logins`
//! fault answers the same trap for the right credentials too: that is what a router says when
//! the account may not log in from this address or the service refuses it, so clients see a
//! real router's wording rather than a closed socket.

use md5::{Digest as _, Md5};
use rand::RngExt as _;

use hotspot_shared::routeros::{Reply, Request};

use super::Shared;

/// Where a session stands with its login.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AuthState {
    Anonymous,
    /// A challenge was sent; the next `/login` must answer it.
    Challenged([u8; 16]),
    LoggedIn,
}

/// The hex response a client computes for `password` and `challenge`.
pub fn challenge_response(password: &[u8], challenge: &[u8]) -> String {
    let mut md5 = Md5::new();
    md5.update([0u8]);
    md5.update(password);
    md5.update(challenge);
    format!("00{}", hex::encode(md5.finalize()))
}

/// Answers one `/login` and moves `state` on.
pub fn login(shared: &Shared, state: &mut AuthState, req: &Request) -> Vec<Reply> {
    let version = shared.cfg.ros_version;
    let name = req.attrs.get("name");
    let name_ok = name == Some(shared.cfg.user.as_bytes());

    if let Some(response) = req.attrs.get("response") {
        let ok = match *state {
            AuthState::Challenged(ch) => {
                name_ok
                    && response.eq_ignore_ascii_case(
                        challenge_response(shared.cfg.password.as_bytes(), &ch).as_bytes(),
                    )
            }
            _ => false,
        };
        return finish(shared, state, ok);
    }
    let password = req.attrs.get("password");
    if version.legacy_login() || (password.is_none() && version.major < 7) {
        let mut challenge = [0u8; 16];
        rand::rng().fill(&mut challenge[..]);
        *state = AuthState::Challenged(challenge);
        let mut done = Reply::done();
        done.attrs.set("ret", hex::encode(challenge));
        return vec![done];
    }
    let ok = name_ok && password == Some(shared.cfg.password.as_bytes());
    finish(shared, state, ok)
}

fn finish(shared: &Shared, state: &mut AuthState, ok: bool) -> Vec<Reply> {
    if ok && !shared.faults().refuse_logins {
        *state = AuthState::LoggedIn;
        return vec![Reply::done()];
    }
    *state = AuthState::Anonymous;
    let message = if shared.cfg.ros_version.legacy_login() {
        "cannot log in"
    } else {
        "invalid user name or password (6)"
    };
    vec![Reply::trap(None, message), Reply::done()]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn response_matches_a_known_md5() {
        // MD5(0x00 ++ "" ++ 16 zero bytes), computed independently.
        let expected = format!("00{}", hex::encode(Md5::digest([0u8; 17])));
        assert_eq!(challenge_response(b"", &[0u8; 16]), expected);
        assert_eq!(challenge_response(b"", &[0u8; 16]).len(), 34);
    }
}
