//! Two-factor sign-in: TOTP codes (RFC 6238) and single-use recovery codes, and the short-lived
//! tickets that carry a dashboard sign-in from its password step to its code step.
//!
//! Why it is shaped so:
//! - **What authenticator apps expect:** HMAC-SHA-1, 6 digits, 30-second steps, one step of
//!   clock skew either way, a 160-bit secret shown as base32 and as an `otpauth://` URI (the QR
//!   code). Other parameters are legal in the RFC but silently mis-read by common apps.
//! - **A code counts once.** [`TotpSecret::check`] only accepts a step later than the last one
//!   accepted, so a code seen over a shoulder or in a proxy log is spent (RFC 6238 §5.2). The
//!   caller stores the accepted step in the same write that lets the sign-in through.
//! - **Recovery codes are 80 random bits** (16 characters of the voucher alphabet, which has no
//!   look-alike characters), so a plain SHA-256 over the account and the code is enough to
//!   store them: there is no dictionary to try. Each is spent on use.
//! - **Nothing here touches storage or the clock**; `now` is an argument.

use std::collections::HashMap;
use std::fmt;

use hotspot_shared::voucher::ALPHABET;
use rand::{CryptoRng, RngExt};
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;
use totp_rs::{Algorithm, Builder, Secret, Totp};

use super::token::TokenHash;

/// Random bytes in a TOTP secret (160 bits, RFC 4226's recommendation).
pub const SECRET_BYTES: usize = 20;
/// Digits of a code.
pub const CODE_DIGITS: usize = 6;
/// Seconds a code is valid for.
pub const STEP_SECS: u64 = 30;
/// Recovery codes made at a time.
pub const RECOVERY_CODES: usize = 10;
/// Characters of a recovery code (80 bits), written in groups of four.
pub const RECOVERY_CHARS: usize = 16;
/// Longest second-factor text looked at (a recovery code with separators and spaces fits).
pub const MAX_CODE_TEXT: usize = 32;
/// The issuer shown in authenticator apps.
pub const ISSUER: &str = "hotspot-fleet";
/// How long a password step waits for its code.
pub const TICKET_SECS: i64 = 300;
/// Pending dashboard sign-ins kept at once; the oldest go first beyond it.
pub const MAX_TICKETS: usize = 10_000;

/// Why a stored secret cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum TwoFactorError {
    #[error("the stored two-factor secret is {0} bytes; expected 16 to 64")]
    SecretLength(usize),
    #[error("the two-factor parameters are refused: {0}")]
    Totp(String),
}

/// A TOTP secret, in memory only (the ledger keeps it sealed). `Debug` shows nothing of it.
#[derive(Clone, PartialEq, Eq)]
pub struct TotpSecret(Vec<u8>);

impl fmt::Debug for TotpSecret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("TotpSecret(***)")
    }
}

impl TotpSecret {
    pub fn generate(rng: &mut impl CryptoRng) -> TotpSecret {
        let mut bytes = vec![0u8; SECRET_BYTES];
        rng.fill_bytes(&mut bytes);
        TotpSecret(bytes)
    }

    /// A secret read back from the ledger.
    pub fn from_bytes(bytes: Vec<u8>) -> Result<TotpSecret, TwoFactorError> {
        if !(16..=64).contains(&bytes.len()) {
            return Err(TwoFactorError::SecretLength(bytes.len()));
        }
        Ok(TotpSecret(bytes))
    }

    /// A secret as [`TotpSecret::base32`] writes it (what an app is given to type in).
    pub fn from_base32(text: &str) -> Result<TotpSecret, TwoFactorError> {
        let bytes = Secret::try_from_base32(text)
            .map_err(|e| TwoFactorError::Totp(e.to_string()))?
            .as_ref()
            .to_vec();
        TotpSecret::from_bytes(bytes)
    }

    pub fn expose(&self) -> &[u8] {
        &self.0
    }

    /// The secret as people type it into an app (RFC 4648 base32, no padding).
    pub fn base32(&self) -> String {
        Secret::from(self.0.clone()).to_base32()
    }

    fn totp(&self, account: &str) -> Result<Totp, TwoFactorError> {
        Builder::new()
            .with_algorithm(Algorithm::SHA1)
            .with_digits(CODE_DIGITS as u8)
            .with_skew(1)
            .with_step_duration(STEP_SECS)
            .with_secret(self.0.clone())
            .with_issuer(Some(ISSUER))
            .with_account_name(account_label(account))
            .build()
            .map_err(|e| TwoFactorError::Totp(e.to_string()))
    }

    /// The `otpauth://totp/…` URI an authenticator app scans, for `account`.
    pub fn otpauth_uri(&self, account: &str) -> Result<String, TwoFactorError> {
        self.totp(account)?
            .to_url()
            .map_err(|e| TwoFactorError::Totp(e.to_string()))
    }

    /// The code for the step that contains `now` (Unix seconds): what the app shows.
    pub fn code_at(&self, now: i64) -> Result<String, TwoFactorError> {
        Ok(self.totp("")?.generate(unix(now)).to_string())
    }

    /// The step `code` belongs to if it is valid at `now` (one step of skew either way) and
    /// later than `last_step`, the last one accepted for this secret.
    pub fn check(&self, code: &str, now: i64, last_step: u64) -> Option<u64> {
        let digits = totp_digits(code)?;
        let totp = self.totp("").ok()?;
        let origin = unix(now) / STEP_SECS;
        // Newest first, so a code valid for two steps (a one-in-a-million collision) spends
        // the later one.
        (origin.saturating_sub(1)..=origin + 1)
            .rev()
            .filter(|step| *step > last_step)
            .find(|step| {
                let expected = totp.generate(step * STEP_SECS).to_string();
                bool::from(expected.as_bytes().ct_eq(digits.as_bytes()))
            })
    }
}

fn unix(now: i64) -> u64 {
    u64::try_from(now).unwrap_or(0)
}

/// Account names in an `otpauth` label may not hold `:` (it separates the issuer).
fn account_label(account: &str) -> String {
    account.replace(':', "-")
}

/// The six digits of a TOTP code, spaces allowed between them ("123 456").
fn totp_digits(text: &str) -> Option<String> {
    if text.len() > MAX_CODE_TEXT {
        return None;
    }
    let digits: String = text.chars().filter(|c| !c.is_whitespace()).collect();
    (digits.len() == CODE_DIGITS && digits.bytes().all(|b| b.is_ascii_digit())).then_some(digits)
}

/// What a person typed as their second factor.
#[derive(Clone, PartialEq, Eq)]
pub enum SecondFactor {
    /// Six digits from the app.
    Totp(String),
    /// A recovery code, normalised (upper case, no separators).
    Recovery(String),
}

impl fmt::Debug for SecondFactor {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            SecondFactor::Totp(_) => f.write_str("Totp(***)"),
            SecondFactor::Recovery(_) => f.write_str("Recovery(***)"),
        }
    }
}

impl SecondFactor {
    /// Reads a code; `None` when it is neither shape (which is a wrong code like any other).
    pub fn parse(text: &str) -> Option<SecondFactor> {
        if text.len() > MAX_CODE_TEXT {
            return None;
        }
        if let Some(digits) = totp_digits(text) {
            return Some(SecondFactor::Totp(digits));
        }
        let code: String = text
            .chars()
            .filter(|c| !c.is_whitespace() && *c != '-')
            .map(|c| c.to_ascii_uppercase())
            .collect();
        let shaped = code.len() == RECOVERY_CHARS && code.bytes().all(|b| ALPHABET.contains(&b));
        shaped.then_some(SecondFactor::Recovery(code))
    }
}

/// A fresh recovery code, shown once: `ABCD-EFGH-JKLM-NPQR`.
pub fn recovery_code(rng: &mut impl CryptoRng) -> String {
    let mut out = String::with_capacity(RECOVERY_CHARS + RECOVERY_CHARS / 4);
    for i in 0..RECOVERY_CHARS {
        if i > 0 && i % 4 == 0 {
            out.push('-');
        }
        out.push(char::from(ALPHABET[rng.random_range(0..ALPHABET.len())]));
    }
    out
}

/// What the ledger keeps of account `staff`'s recovery code (`normalised`: as
/// [`SecondFactor::Recovery`] holds it). The account is in the hash so equal codes of two
/// accounts do not match each other's.
pub fn recovery_hash(staff: u64, normalised: &str) -> [u8; 32] {
    let mut h = Sha256::new();
    h.update(b"hotspot-fleet recovery code v1\0");
    h.update(staff.to_be_bytes());
    h.update(normalised.as_bytes());
    h.finalize().into()
}

/// The hashes of `codes` (as shown) for account `staff`.
pub fn recovery_hashes(staff: u64, codes: &[String]) -> Vec<[u8; 32]> {
    codes
        .iter()
        .filter_map(|c| match SecondFactor::parse(c) {
            Some(SecondFactor::Recovery(n)) => Some(recovery_hash(staff, &n)),
            _ => None,
        })
        .collect()
}

/// A dashboard sign-in whose password was right and whose code is still to come.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PendingSignIn {
    pub staff: u64,
    pub username: String,
    pub next: String,
    pub expires_at: i64,
}

/// Pending sign-ins by the hash of their ticket (the ticket itself travels in the code form).
/// In memory: a restart only means signing in again.
#[derive(Debug, Default)]
pub struct SignInTickets {
    pending: HashMap<TokenHash, PendingSignIn>,
}

impl SignInTickets {
    /// Keeps `pending` under `ticket`, forgetting expired ones (and the oldest when full).
    pub fn insert(&mut self, ticket: TokenHash, pending: PendingSignIn, now: i64) {
        self.pending.retain(|_, p| p.expires_at > now);
        if self.pending.len() >= MAX_TICKETS
            && let Some(oldest) = self
                .pending
                .iter()
                .min_by_key(|(_, p)| p.expires_at)
                .map(|(k, _)| *k)
        {
            self.pending.remove(&oldest);
        }
        self.pending.insert(ticket, pending);
    }

    /// The sign-in waiting under `ticket`, if it has not expired.
    pub fn get(&self, ticket: &TokenHash, now: i64) -> Option<&PendingSignIn> {
        self.pending.get(ticket).filter(|p| p.expires_at > now)
    }

    /// Ends the sign-in under `ticket` (its code was accepted, or it was given up).
    pub fn remove(&mut self, ticket: &TokenHash) {
        self.pending.remove(ticket);
    }

    pub fn len(&self) -> usize {
        self.pending.len()
    }

    pub fn is_empty(&self) -> bool {
        self.pending.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// RFC 6238 appendix B's SHA-1 secret; its 8-digit values end in these 6 digits.
    const RFC_SECRET: &[u8] = b"12345678901234567890";

    #[test]
    fn codes_match_the_rfc_6238_test_vectors() {
        let secret = TotpSecret::from_bytes(RFC_SECRET.to_vec()).unwrap();
        for (t, code) in [
            (59, "287082"),
            (1_111_111_109, "081804"),
            (1_234_567_890, "005924"),
            (2_000_000_000, "279037"),
        ] {
            assert_eq!(secret.code_at(t).unwrap(), code, "t = {t}");
        }
    }

    #[test]
    fn a_code_is_accepted_once_and_within_one_step_of_skew() {
        let secret = TotpSecret::from_bytes(RFC_SECRET.to_vec()).unwrap();
        let now = 1_234_567_890;
        let code = secret.code_at(now).unwrap();
        let step = secret.check(&code, now, 0).expect("current code");
        assert_eq!(step, now as u64 / STEP_SECS);
        assert_eq!(secret.check(&code, now, step), None, "replayed");
        let spaced = format!("{} {}", &code[..3], &code[3..]);
        assert_eq!(
            secret.check(&spaced, now + 30, 0),
            Some(step),
            "one step late"
        );
        assert_eq!(
            secret.check(&code, now - 30, 0),
            Some(step),
            "one step early"
        );
        assert_eq!(secret.check(&code, now + 61, 0), None, "two steps late");
        assert_eq!(secret.check("12345", now, 0), None);
        assert_eq!(secret.check("abcdef", now, 0), None);
    }

    #[test]
    fn the_uri_names_the_issuer_and_the_secret() {
        let secret = TotpSecret::generate(&mut rand::rng());
        let uri = secret.otpauth_uri("ana:admin").unwrap();
        assert!(
            uri.starts_with("otpauth://totp/hotspot-fleet:ana-admin?"),
            "{uri}"
        );
        assert!(
            uri.contains(&format!("secret={}", secret.base32())),
            "{uri}"
        );
        assert!(uri.contains("issuer=hotspot-fleet"), "{uri}");
        assert_eq!(format!("{secret:?}"), "TotpSecret(***)");
        assert_eq!(TotpSecret::from_base32(&secret.base32()).unwrap(), secret);
    }

    #[test]
    fn recovery_codes_parse_in_any_case_and_hash_per_account() {
        let code = recovery_code(&mut rand::rng());
        assert_eq!(code.len(), RECOVERY_CHARS + 3);
        let Some(SecondFactor::Recovery(n)) = SecondFactor::parse(&code.to_lowercase()) else {
            panic!("{code} does not parse");
        };
        assert_eq!(n, code.replace('-', ""));
        assert_eq!(
            recovery_hashes(1, std::slice::from_ref(&code)),
            vec![recovery_hash(1, &n)]
        );
        assert_ne!(recovery_hash(1, &n), recovery_hash(2, &n));
        assert_eq!(
            SecondFactor::parse("ABCD-EFGH-JKLM-NPQ0"),
            None,
            "0 is not in the alphabet"
        );
        assert_eq!(SecondFactor::parse(&"1".repeat(40)), None);
    }

    #[test]
    fn tickets_expire_and_stay_bounded() {
        let mut tickets = SignInTickets::default();
        let pending = |expires_at| PendingSignIn {
            staff: 1,
            username: "ana".into(),
            next: String::new(),
            expires_at,
        };
        let a = TokenHash::of("a");
        tickets.insert(a, pending(100), 0);
        assert!(tickets.get(&a, 99).is_some());
        assert!(tickets.get(&a, 100).is_none(), "expired");
        for i in 0..MAX_TICKETS + 5 {
            tickets.insert(TokenHash::of(&i.to_string()), pending(1_000 + i as i64), 0);
        }
        assert_eq!(tickets.len(), MAX_TICKETS);
        assert!(
            tickets.get(&TokenHash::of("0"), 0).is_none(),
            "the oldest went first"
        );
    }
}
