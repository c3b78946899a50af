//! The site identifier as it appears in certificates and tokens.
//!
//! A site id ends up in three places: a certificate's URI SAN
//! (`hotspot-fleet://site/<id>`), the subject CN, and the dot-separated
//! enrollment token string. The alphabet is therefore deliberately narrow
//! (`[a-z0-9-]`, no leading `-`, 1–64 chars): it needs no escaping in a URI,
//! cannot contain the token's `.` separator, cannot be mistaken for a command
//! line flag, and has a single spelling (no case folding questions).

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

/// Longest site id accepted.
pub const SITE_ID_MAX_LEN: usize = 64;

/// A validated site identifier: 1–64 chars of `[a-z0-9-]`, not starting with `-`.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct SiteId(String);

/// Why a string is not a site id.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum SiteIdError {
    #[error("site id is empty")]
    Empty,
    #[error("site id is {len} characters long; at most {SITE_ID_MAX_LEN} are allowed")]
    TooLong { len: usize },
    #[error("site id may not start with '-'")]
    LeadingHyphen,
    #[error(
        "site id contains {ch:?} at position {pos}; only lowercase letters, digits and '-' are allowed"
    )]
    BadChar { ch: char, pos: usize },
}

impl SiteId {
    /// Validates and wraps `s`.
    pub fn new(s: impl Into<String>) -> Result<Self, SiteIdError> {
        let s = s.into();
        validate(&s)?;
        Ok(SiteId(s))
    }

    /// The id as a string slice.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

fn validate(s: &str) -> Result<(), SiteIdError> {
    if s.is_empty() {
        return Err(SiteIdError::Empty);
    }
    // Check characters before length, so a long string of garbage is reported
    // as garbage; count chars, not bytes, for the message.
    for (pos, ch) in s.chars().enumerate() {
        if !(ch.is_ascii_lowercase() || ch.is_ascii_digit() || ch == '-') {
            return Err(SiteIdError::BadChar { ch, pos });
        }
    }
    if s.len() > SITE_ID_MAX_LEN {
        return Err(SiteIdError::TooLong { len: s.len() });
    }
    if s.starts_with('-') {
        return Err(SiteIdError::LeadingHyphen);
    }
    Ok(())
}

impl fmt::Display for SiteId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl FromStr for SiteId {
    type Err = SiteIdError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        SiteId::new(s)
    }
}

impl TryFrom<String> for SiteId {
    type Error = SiteIdError;
    fn try_from(s: String) -> Result<Self, Self::Error> {
        SiteId::new(s)
    }
}

impl From<SiteId> for String {
    fn from(id: SiteId) -> String {
        id.0
    }
}

impl AsRef<str> for SiteId {
    fn as_ref(&self) -> &str {
        &self.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accepts_good_ids() {
        for s in ["a", "site-1", "0", "nairobi-west-07", &"x".repeat(64)] {
            assert_eq!(SiteId::new(s).map(|id| id.to_string()), Ok(s.to_string()));
        }
    }

    #[test]
    fn refuses_bad_ids() {
        assert_eq!(SiteId::new(""), Err(SiteIdError::Empty));
        assert_eq!(SiteId::new("-a"), Err(SiteIdError::LeadingHyphen));
        assert_eq!(
            SiteId::new("x".repeat(65)),
            Err(SiteIdError::TooLong { len: 65 })
        );
        assert_eq!(
            SiteId::new("Site"),
            Err(SiteIdError::BadChar { ch: 'S', pos: 0 })
        );
        assert_eq!(
            SiteId::new("a.b"),
            Err(SiteIdError::BadChar { ch: '.', pos: 1 })
        );
        assert_eq!(
            SiteId::new("a/b"),
            Err(SiteIdError::BadChar { ch: '/', pos: 1 })
        );
        assert!(SiteId::new("é").is_err());
    }

    #[test]
    fn serde_validates() {
        let id: SiteId = serde_json::from_str("\"site-1\"").unwrap();
        assert_eq!(serde_json::to_string(&id).unwrap(), "\"site-1\"");
        assert!(serde_json::from_str::<SiteId>("\"Bad Id\"").is_err());
    }
}
