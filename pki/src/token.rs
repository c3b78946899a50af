//! One-time enrollment tokens: what the operator pastes into `hotspot-agent enroll`.
//!
//! The string is `hfe1.<site-id>.<secret>.<ca-sha256>`:
//! - `hfe1` names the format and its version, so a wrong paste is recognised
//!   as such and a future format can be told apart;
//! - the site id says which site the token enrolls (readable, so operators
//!   can see they hold the right one);
//! - the secret is 128 random bits in hex; the controller stores only its
//!   SHA-256 (a plain hash suffices for high-entropy secrets) and compares in
//!   constant time;
//! - the CA's SHA-256 lets the agent trust the controller before it has any
//!   certificate of its own (the `kubeadm join --discovery-token-ca-cert-hash`
//!   model; see [`crate::tls::agent_enrollment_config`]).
//!
//! All parts use `[a-z0-9-]` and `.`, so the string survives copy-paste,
//! shells, URLs and chat clients. Expiry and "used" live only in the
//! controller's [`TokenRecord`]: the string carries nothing the controller
//! must trust.

use std::fmt;
use std::str::FromStr;

use rand::CryptoRng;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;
use time::OffsetDateTime;

use crate::site::{SiteId, SiteIdError};

/// Format tag and version at the start of every token.
pub const TOKEN_PREFIX: &str = "hfe1";
/// Random bytes in a token secret (128 bits).
pub const SECRET_BYTES: usize = 16;
/// Longest token: `hfe1.<site>.<secret hex>.<CA fingerprint hex>` with the longest site id
/// (167 characters). Longer input is refused before it is split.
pub const MAX_TOKEN_LEN: usize =
    TOKEN_PREFIX.len() + 1 + crate::site::SITE_ID_MAX_LEN + 1 + SECRET_BYTES * 2 + 1 + 32 * 2;

/// An enrollment token as held by the operator and the agent.
#[derive(Clone, PartialEq, Eq)]
pub struct EnrollmentToken {
    site_id: SiteId,
    secret: [u8; SECRET_BYTES],
    ca_fingerprint: [u8; 32],
}

/// What the controller stores for a token: never the secret itself.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct TokenRecord {
    pub site_id: SiteId,
    #[serde(with = "hex::serde")]
    pub secret_hash: [u8; 32],
    #[serde(with = "time::serde::rfc3339")]
    pub expires_at: OffsetDateTime,
    pub used: bool,
}

/// Why a string is not an enrollment token.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum TokenParseError {
    #[error(
        "enrollment token is {len} characters long; a real one has at most {MAX_TOKEN_LEN} (was something pasted with it?)"
    )]
    TooLong { len: usize },
    #[error("not a hotspot-fleet enrollment token: it should start with \"{TOKEN_PREFIX}.\"")]
    NotAToken,
    #[error(
        "enrollment token format {found:?} is not supported by this version (expected \"{TOKEN_PREFIX}\")"
    )]
    UnsupportedVersion { found: String },
    #[error(
        "enrollment token should have 4 parts separated by '.', found {found} (was it cut off when copying?)"
    )]
    WrongShape { found: usize },
    #[error("enrollment token names an invalid site: {0}")]
    BadSiteId(#[from] SiteIdError),
    #[error("enrollment token secret should be {} hex digits", SECRET_BYTES * 2)]
    BadSecret,
    #[error("enrollment token CA hash should be 64 hex digits (SHA-256)")]
    BadCaHash,
}

/// Why the controller refuses a presented token.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum EnrollError {
    #[error(
        "enrollment token is not valid for this controller (check it was copied completely, or ask for a new one)"
    )]
    Invalid,
    #[error(
        "enrollment token was already used; each token enrolls one agent once, ask for a new one"
    )]
    AlreadyUsed,
    #[error("enrollment token expired at {expired_at}; ask for a new one")]
    Expired { expired_at: OffsetDateTime },
}

impl EnrollmentToken {
    /// Makes a token for `site_id` and the record the controller keeps for it.
    /// Give the token's string to the operator; store the record.
    pub fn new(
        site_id: SiteId,
        ca_fingerprint: [u8; 32],
        expires_at: OffsetDateTime,
        rng: &mut impl CryptoRng,
    ) -> (EnrollmentToken, TokenRecord) {
        let mut secret = [0u8; SECRET_BYTES];
        rng.fill_bytes(&mut secret);
        let token = EnrollmentToken {
            site_id,
            secret,
            ca_fingerprint,
        };
        let record = TokenRecord {
            site_id: token.site_id.clone(),
            secret_hash: token.secret_hash(),
            expires_at,
            used: false,
        };
        (token, record)
    }

    pub fn site_id(&self) -> &SiteId {
        &self.site_id
    }

    /// SHA-256 of the fleet CA certificate DER the controller must present.
    pub fn ca_fingerprint(&self) -> [u8; 32] {
        self.ca_fingerprint
    }

    /// SHA-256 of the secret: the only form in which the controller keeps it.
    pub fn secret_hash(&self) -> [u8; 32] {
        Sha256::digest(self.secret).into()
    }

    /// Whether this token's secret hashes to `stored_hash` (constant time).
    pub fn verify_secret(&self, stored_hash: &[u8; 32]) -> bool {
        self.secret_hash().ct_eq(stored_hash).into()
    }
}

impl TokenRecord {
    /// Checks a presented token against this record at `now`. A token whose
    /// site or secret does not match is [`EnrollError::Invalid`], and nothing
    /// more is revealed about the record to whoever presented it.
    pub fn check(
        &self,
        presented: &EnrollmentToken,
        now: OffsetDateTime,
    ) -> Result<(), EnrollError> {
        let secret_ok = presented.verify_secret(&self.secret_hash);
        if !secret_ok || presented.site_id != self.site_id {
            return Err(EnrollError::Invalid);
        }
        if self.used {
            return Err(EnrollError::AlreadyUsed);
        }
        if now >= self.expires_at {
            return Err(EnrollError::Expired {
                expired_at: self.expires_at,
            });
        }
        Ok(())
    }

    /// Records that the token has been spent.
    pub fn mark_used(&mut self) {
        self.used = true;
    }
}

impl fmt::Display for EnrollmentToken {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{TOKEN_PREFIX}.{}.{}.{}",
            self.site_id,
            hex::encode(self.secret),
            hex::encode(self.ca_fingerprint)
        )
    }
}

impl fmt::Debug for EnrollmentToken {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("EnrollmentToken")
            .field("site_id", &self.site_id)
            .field("secret", &"[redacted]")
            .field("ca_fingerprint", &hex::encode(self.ca_fingerprint))
            .finish()
    }
}

impl FromStr for EnrollmentToken {
    type Err = TokenParseError;

    /// Parses a token; surrounding whitespace is ignored, hex is accepted in
    /// either case.
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let s = s.trim();
        if s.len() > MAX_TOKEN_LEN {
            return Err(TokenParseError::TooLong { len: s.len() });
        }
        let parts: Vec<&str> = s.split('.').collect();
        let version = parts.first().copied().unwrap_or_default();
        if version != TOKEN_PREFIX {
            let looks_versioned = version.len() > 3
                && version.starts_with("hfe")
                && version[3..].chars().all(|c| c.is_ascii_digit());
            return Err(if looks_versioned {
                TokenParseError::UnsupportedVersion {
                    found: version.to_string(),
                }
            } else {
                TokenParseError::NotAToken
            });
        }
        let [_, site, secret, ca] = parts[..] else {
            return Err(TokenParseError::WrongShape { found: parts.len() });
        };
        let site_id = SiteId::new(site)?;
        Ok(EnrollmentToken {
            site_id,
            secret: decode_hex(secret).ok_or(TokenParseError::BadSecret)?,
            ca_fingerprint: decode_hex(ca).ok_or(TokenParseError::BadCaHash)?,
        })
    }
}

fn decode_hex<const N: usize>(s: &str) -> Option<[u8; N]> {
    if s.len() != N * 2 {
        return None;
    }
    let mut out = [0u8; N];
    hex::decode_to_slice(s, &mut out).ok()?;
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use time::Duration;
    use time::macros::datetime;

    const NOW: OffsetDateTime = datetime!(2026-05-01 12:00 UTC);

    fn make(site: &str) -> (EnrollmentToken, TokenRecord) {
        let site = SiteId::new(site).unwrap();
        EnrollmentToken::new(site, [7; 32], NOW + Duration::hours(24), &mut rand::rng())
    }

    #[test]
    fn string_round_trip() {
        let (token, record) = make("site-1");
        let s = token.to_string();
        assert!(s.starts_with("hfe1.site-1."));
        assert_eq!(s.len(), 4 + 1 + 6 + 1 + 32 + 1 + 64);
        let back: EnrollmentToken = s.parse().unwrap();
        assert_eq!(back, token);
        let padded: EnrollmentToken = format!(
            "  {}\n",
            s.to_uppercase().replace("HFE1.SITE-1", "hfe1.site-1")
        )
        .parse()
        .unwrap();
        assert_eq!(padded, token);
        assert_eq!(record.check(&back, NOW), Ok(()));
        assert!(!format!("{token:?}").contains(&hex::encode(token.secret)));
    }

    #[test]
    fn malformed_strings_get_clear_errors() {
        let (token, _) = make("site-1");
        let s = token.to_string();
        let cut = &s[..s.len() - 10];
        assert_eq!(
            cut.parse::<EnrollmentToken>(),
            Err(TokenParseError::BadCaHash)
        );
        assert_eq!(
            "".parse::<EnrollmentToken>(),
            Err(TokenParseError::NotAToken)
        );
        assert_eq!(
            "abc".parse::<EnrollmentToken>(),
            Err(TokenParseError::NotAToken)
        );
        assert_eq!(
            s.replacen("hfe1", "hfe2", 1).parse::<EnrollmentToken>(),
            Err(TokenParseError::UnsupportedVersion {
                found: "hfe2".into()
            })
        );
        assert_eq!(
            "hfe1.site-1.00".parse::<EnrollmentToken>(),
            Err(TokenParseError::WrongShape { found: 3 })
        );
        assert!(matches!(
            s.replacen("site-1", "Site_1", 1).parse::<EnrollmentToken>(),
            Err(TokenParseError::BadSiteId(_))
        ));
        let bad_secret = s.replacen(&hex::encode(token.secret), &"zz".repeat(SECRET_BYTES), 1);
        assert_eq!(
            bad_secret.parse::<EnrollmentToken>(),
            Err(TokenParseError::BadSecret)
        );
        assert!(matches!(
            "x".repeat(300).parse::<EnrollmentToken>(),
            Err(TokenParseError::TooLong { .. })
        ));
    }

    #[test]
    fn the_length_limit_is_the_longest_real_token() {
        let (token, _) = make(&"a".repeat(crate::site::SITE_ID_MAX_LEN));
        let s = token.to_string();
        assert_eq!(s.len(), MAX_TOKEN_LEN);
        assert_eq!(s.parse::<EnrollmentToken>().unwrap(), token);
        let err = format!("{s}x").parse::<EnrollmentToken>().unwrap_err();
        assert_eq!(
            err,
            TokenParseError::TooLong {
                len: MAX_TOKEN_LEN + 1
            }
        );
        assert!(
            err.to_string()
                .contains(&format!("at most {MAX_TOKEN_LEN}"))
        );
    }

    #[test]
    fn forged_and_wrong_tokens_are_invalid() {
        let (token, record) = make("site-1");
        // Another token for the same site: wrong secret.
        let (other, _) = make("site-1");
        assert_eq!(record.check(&other, NOW), Err(EnrollError::Invalid));
        // Tampered site id, same secret.
        let tampered: EnrollmentToken = token
            .to_string()
            .replacen("site-1", "site-2", 1)
            .parse()
            .unwrap();
        assert_eq!(record.check(&tampered, NOW), Err(EnrollError::Invalid));
        // One flipped secret digit.
        let mut flipped = token.clone();
        flipped.secret[0] ^= 1;
        assert_eq!(record.check(&flipped, NOW), Err(EnrollError::Invalid));
        assert!(token.verify_secret(&record.secret_hash));
        assert!(!flipped.verify_secret(&record.secret_hash));
    }

    #[test]
    fn expired_and_used_have_their_own_errors() {
        let (token, mut record) = make("site-1");
        let later = record.expires_at;
        assert_eq!(
            record.check(&token, later),
            Err(EnrollError::Expired { expired_at: later })
        );
        assert_eq!(record.check(&token, later - Duration::seconds(1)), Ok(()));
        record.mark_used();
        assert_eq!(record.check(&token, NOW), Err(EnrollError::AlreadyUsed));
        // A wrong secret never learns that the token was used.
        let (other, _) = make("site-1");
        assert_eq!(record.check(&other, NOW), Err(EnrollError::Invalid));
    }

    #[test]
    fn record_serde_round_trip() {
        let (_, record) = make("site-1");
        let json = serde_json::to_string(&record).unwrap();
        assert!(json.contains(&hex::encode(record.secret_hash)));
        let back: TokenRecord = serde_json::from_str(&json).unwrap();
        assert_eq!(back, record);
    }
}
