//! Certificate serial numbers and the set of revoked ones.
//!
//! We revoke by serial rather than by site: a site that is re-enrolled gets a
//! new certificate with a new serial, and revoking the old one must not lock the
//! site out. There are no CRL files or OCSP here on purpose: the only relying
//! party is the controller, which keeps [`Revocations`] in its own store and
//! hands a shared handle ([`SharedRevocations`]) to
//! [`crate::FleetClientVerifier`], so a revocation takes effect on the next
//! handshake without rebuilding any TLS config. (Closing connections that are
//! already open is the channel's job.)

use std::collections::BTreeSet;
use std::fmt;
use std::str::FromStr;
use std::sync::{Arc, RwLock};

use rand::CryptoRng;
use serde::{Deserialize, Serialize};

/// Serials we generate have this many random bytes (128 bits).
pub const SERIAL_RANDOM_BYTES: usize = 16;

/// RFC 5280 caps serial numbers at 20 octets.
const SERIAL_MAX_BYTES: usize = 20;

/// A certificate serial number: a positive integer, kept as big-endian bytes
/// without leading zeros, shown and serialised as lowercase hex.
#[derive(Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct Serial(Vec<u8>);

/// Why a string or byte string is not a serial number.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum SerialError {
    #[error("serial number is zero or empty")]
    Zero,
    #[error("serial number is {len} bytes long; at most 20 are allowed")]
    TooLong { len: usize },
    #[error("serial number is not hexadecimal: {0}")]
    NotHex(String),
}

impl Serial {
    /// A fresh random positive 128-bit serial.
    pub fn random(rng: &mut impl CryptoRng) -> Serial {
        loop {
            let mut bytes = [0u8; SERIAL_RANDOM_BYTES];
            rng.fill_bytes(&mut bytes);
            // All-zero has probability 2^-128; loop rather than assume.
            if let Ok(serial) = Serial::from_be_bytes(&bytes) {
                return serial;
            }
        }
    }

    /// From the big-endian magnitude of the integer (leading zeros allowed, as
    /// in DER's sign padding).
    pub fn from_be_bytes(bytes: &[u8]) -> Result<Serial, SerialError> {
        let first = bytes
            .iter()
            .position(|b| *b != 0)
            .ok_or(SerialError::Zero)?;
        let magnitude = &bytes[first..];
        if magnitude.len() > SERIAL_MAX_BYTES {
            return Err(SerialError::TooLong {
                len: magnitude.len(),
            });
        }
        Ok(Serial(magnitude.to_vec()))
    }

    /// Big-endian magnitude, no leading zeros.
    pub fn as_bytes(&self) -> &[u8] {
        &self.0
    }
}

impl fmt::Display for Serial {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&hex::encode(&self.0))
    }
}

impl fmt::Debug for Serial {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Serial({self})")
    }
}

impl FromStr for Serial {
    type Err = SerialError;
    /// Hex, optionally with `:` separators (as `openssl x509 -serial` and other
    /// tools print it), either case.
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let cleaned: String = s.trim().chars().filter(|c| *c != ':').collect();
        let padded = if cleaned.len() % 2 == 1 {
            format!("0{cleaned}")
        } else {
            cleaned
        };
        let bytes = hex::decode(&padded).map_err(|e| SerialError::NotHex(e.to_string()))?;
        Serial::from_be_bytes(&bytes)
    }
}

impl TryFrom<String> for Serial {
    type Error = SerialError;
    fn try_from(s: String) -> Result<Self, Self::Error> {
        s.parse()
    }
}

impl From<Serial> for String {
    fn from(serial: Serial) -> String {
        serial.to_string()
    }
}

impl From<&Serial> for rcgen::SerialNumber {
    fn from(serial: &Serial) -> rcgen::SerialNumber {
        rcgen::SerialNumber::from_slice(&serial.0)
    }
}

/// The set of revoked certificate serials.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Revocations {
    revoked: BTreeSet<Serial>,
}

/// A handle the controller updates at run time and the verifier reads on
/// every handshake.
pub type SharedRevocations = Arc<RwLock<Revocations>>;

impl Revocations {
    pub fn new() -> Self {
        Self::default()
    }

    /// Marks `serial` revoked; returns `false` if it already was.
    pub fn revoke(&mut self, serial: Serial) -> bool {
        self.revoked.insert(serial)
    }

    pub fn is_revoked(&self, serial: &Serial) -> bool {
        self.revoked.contains(serial)
    }

    pub fn len(&self) -> usize {
        self.revoked.len()
    }

    pub fn is_empty(&self) -> bool {
        self.revoked.is_empty()
    }

    pub fn iter(&self) -> impl Iterator<Item = &Serial> {
        self.revoked.iter()
    }

    /// Wraps the set in the shared handle the verifier takes.
    pub fn into_shared(self) -> SharedRevocations {
        Arc::new(RwLock::new(self))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn serial_normalises_and_round_trips() {
        let s = Serial::from_be_bytes(&[0, 0, 0x80, 1]).unwrap();
        assert_eq!(s.as_bytes(), &[0x80, 1]);
        assert_eq!(s.to_string(), "8001");
        assert_eq!("80:01".parse::<Serial>().unwrap(), s);
        assert_eq!("0x".parse::<Serial>().ok(), None);
        assert_eq!("00".parse::<Serial>(), Err(SerialError::Zero));
        assert_eq!("801".parse::<Serial>().unwrap().as_bytes(), &[8, 1]);
        assert!(Serial::from_be_bytes(&[1; 21]).is_err());
    }

    #[test]
    fn random_serials_are_positive_and_distinct() {
        let mut rng = rand::rng();
        let a = Serial::random(&mut rng);
        let b = Serial::random(&mut rng);
        assert_ne!(a, b);
        assert!(!a.as_bytes().is_empty() && a.as_bytes().len() <= SERIAL_RANDOM_BYTES);
    }

    #[test]
    fn revocations_serde_round_trip() {
        let mut r = Revocations::new();
        assert!(r.revoke("0a0b".parse().unwrap()));
        assert!(!r.revoke("0a0b".parse().unwrap()));
        let json = serde_json::to_string(&r).unwrap();
        assert_eq!(json, r#"{"revoked":["0a0b"]}"#);
        let back: Revocations = serde_json::from_str(&json).unwrap();
        assert_eq!(back, r);
        assert!(back.is_revoked(&"a0b".parse().unwrap()));
    }
}
