//! The secret box: router passwords (and any other small secret) sealed at rest with AES-256-GCM.
//!
//! Why it is shaped so:
//! - **No IO.** Keys and randomness are passed in, like everything in this crate: the key *file*
//!   lives in `hotspot_pki::keyfile`, the random source is the caller's. So the format, the
//!   binding and the failure cases are tested here without a disk or an OS RNG.
//! - **Self-describing values.** A [`Sealed`] value is `version (1 byte, = 1) ‖ key id (4 bytes,
//!   big-endian) ‖ nonce (12 random bytes) ‖ ciphertext ‖ tag (16 bytes)` (DESIGN.md, "Secrets at
//!   rest"). The key id beside the ciphertext is what lets keys rotate: a [`Keyring`] seals with
//!   its current key and opens with whichever key a value names, so old values stay readable.
//! - **Bound to a place.** The associated data is `version ‖ len ‖ record kind ‖ len ‖ record id ‖
//!   key id`, each length a `u64` big-endian, so no two different places encode alike
//!   (`"ab"+"c"` ≠ `"a"+"bc"`). A value copied onto another router's row, or relabelled with
//!   another key id, fails authentication exactly like a flipped bit: [`OpenError::Tampered`].
//! - **Limits with names.** Plaintexts are at most [`MAX_PLAINTEXT_LEN`]; random 96-bit nonces are
//!   safe for far fewer than 2³² seals per key, so the keyring counts seals per key, says when to
//!   rotate ([`Keyring::needs_rotation`]) and refuses past [`HARD_SEAL_LIMIT`]. The counters are
//!   in memory; persisting them across restarts is the caller's job
//!   ([`Keyring::restore_seal_count`]).
//! - **Nothing secret in Debug or errors.** Keys, opened plaintexts and legacy passwords print as
//!   `***`; key material and opened plaintexts are wiped from memory when dropped (`zeroize`).
//! - **Migration.** An older record may hold a plain-text password. [`StoredSecret`] reads both
//!   shapes, hands the plain one out once through [`StoredSecret::open`], and
//!   [`StoredSecret::reseal_if_plain`] gives the sealed value to write back. Serializing a
//!   plain-text [`StoredSecret`] is refused, so one can never be written again.

use std::collections::BTreeMap;
use std::fmt;
use std::str::FromStr;
use std::sync::atomic::{AtomicU64, Ordering};

use aes_gcm::aead::{AeadInOut, KeyInit};
use aes_gcm::{Aes256Gcm, Tag};
use rand::CryptoRng;
use serde::de::{self, SeqAccess, Visitor};
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use zeroize::Zeroize;
pub use zeroize::Zeroizing;

/// The only format version this code writes and reads.
pub const FORMAT_VERSION: u8 = 1;
/// AES-256 key length.
pub const KEY_LEN: usize = 32;
/// GCM nonce length (96 bits, random per seal).
pub const NONCE_LEN: usize = 12;
/// GCM tag length.
pub const TAG_LEN: usize = 16;
/// Version, key id and nonce.
pub const HEADER_LEN: usize = 1 + 4 + NONCE_LEN;
/// Longest plaintext that is sealed: secrets are passwords and keys, not documents.
pub const MAX_PLAINTEXT_LEN: usize = 64 * 1024;
/// Shortest sealed value (empty plaintext).
pub const MIN_SEALED_LEN: usize = HEADER_LEN + TAG_LEN;
/// Longest sealed value.
pub const MAX_SEALED_LEN: usize = HEADER_LEN + MAX_PLAINTEXT_LEN + TAG_LEN;
/// A key refuses to seal more than this many values (NIST SP 800-38D §8.3 bound for random
/// nonces). Rotate long before: see [`DEFAULT_ROTATE_AFTER`].
pub const HARD_SEAL_LIMIT: u64 = 1 << 32;
/// Seal count after which a caller should rotate ([`Keyring::needs_rotation`]): with 2²⁴
/// random nonces the chance of any repeat is below 2⁻⁴⁸.
pub const DEFAULT_ROTATE_AFTER: u64 = 1 << 24;

/// Record kind of router passwords, the first thing sealed here.
pub const ROUTER_PASSWORD: &str = "router-password";
/// [`Place`] kind of a staff account's TOTP secret.
pub const TWO_FACTOR_SECRET: &str = "two-factor-secret";

/// Which master key sealed a value. Shown as `k<N>`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(transparent)]
pub struct KeyId(pub u32);

impl fmt::Display for KeyId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "k{}", self.0)
    }
}

/// A `k<N>` string that is not a key id.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0:?} is not a key id (expected k followed by a number, like k1)")]
pub struct KeyIdParseError(String);

impl FromStr for KeyId {
    type Err = KeyIdParseError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        s.strip_prefix('k')
            .filter(|n| !n.is_empty() && n.bytes().all(|b| b.is_ascii_digit()))
            .and_then(|n| n.parse().ok())
            .map(KeyId)
            .ok_or_else(|| KeyIdParseError(s.to_owned()))
    }
}

/// 32 secret bytes and the id values sealed with them carry. Wiped on drop; `Debug` shows only
/// the id.
pub struct MasterKey {
    id: KeyId,
    bytes: [u8; KEY_LEN],
}

impl MasterKey {
    /// A key from bytes the caller already has (read from a key file). The caller should wipe
    /// its own copy.
    pub fn from_bytes(id: KeyId, bytes: [u8; KEY_LEN]) -> Self {
        MasterKey { id, bytes }
    }

    /// A fresh key from a cryptographic RNG.
    pub fn generate(id: KeyId, rng: &mut (impl CryptoRng + ?Sized)) -> Self {
        let mut key = MasterKey {
            id,
            bytes: [0; KEY_LEN],
        };
        rng.fill_bytes(&mut key.bytes);
        key
    }

    pub fn id(&self) -> KeyId {
        self.id
    }

    /// The key itself: only for writing it to its key file.
    pub fn expose_bytes(&self) -> &[u8; KEY_LEN] {
        &self.bytes
    }
}

impl Drop for MasterKey {
    fn drop(&mut self) {
        self.bytes.zeroize();
    }
}

impl fmt::Debug for MasterKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("MasterKey")
            .field("id", &self.id)
            .field("bytes", &"***")
            .finish()
    }
}

/// Where a sealed value lives: its record kind and record id. Not secret.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Place {
    pub kind: &'static str,
    pub id: String,
}

impl Place {
    pub fn new(kind: &'static str, id: impl Into<String>) -> Self {
        Place {
            kind,
            id: id.into(),
        }
    }

    /// The password of the router with this record id.
    pub fn router_password(router_id: impl Into<String>) -> Self {
        Place::new(ROUTER_PASSWORD, router_id)
    }

    /// The TOTP secret of the staff account with this id.
    pub fn two_factor_secret(staff_id: impl Into<String>) -> Self {
        Place::new(TWO_FACTOR_SECRET, staff_id)
    }

    /// `version ‖ u64 len ‖ kind ‖ u64 len ‖ id ‖ key id`, all integers big-endian.
    fn associated_data(&self, key: KeyId) -> Vec<u8> {
        let (kind, id) = (self.kind.as_bytes(), self.id.as_bytes());
        let mut aad = Vec::with_capacity(1 + 8 + kind.len() + 8 + id.len() + 4);
        aad.push(FORMAT_VERSION);
        aad.extend_from_slice(&(kind.len() as u64).to_be_bytes());
        aad.extend_from_slice(kind);
        aad.extend_from_slice(&(id.len() as u64).to_be_bytes());
        aad.extend_from_slice(id);
        aad.extend_from_slice(&key.0.to_be_bytes());
        aad
    }
}

/// A sealed value, exactly as stored. Serialized as bytes; `Debug` shows the key id and length,
/// never the content.
#[derive(Clone, PartialEq, Eq)]
pub struct Sealed(Vec<u8>);

impl Sealed {
    /// Wraps stored bytes; nothing is checked until [`Keyring::open`].
    pub fn from_bytes(bytes: Vec<u8>) -> Self {
        Sealed(bytes)
    }

    pub fn as_bytes(&self) -> &[u8] {
        &self.0
    }

    pub fn into_bytes(self) -> Vec<u8> {
        self.0
    }

    /// The key the value names, if it is long enough to name one and of a known version. A
    /// caller re-sealing after rotation compares it with [`Keyring::current_id`].
    pub fn key_id(&self) -> Option<KeyId> {
        match self.0.as_slice() {
            [FORMAT_VERSION, a, b, c, d, ..] => Some(KeyId(u32::from_be_bytes([*a, *b, *c, *d]))),
            _ => None,
        }
    }
}

impl fmt::Debug for Sealed {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut d = f.debug_struct("Sealed");
        if let Some(key) = self.key_id() {
            d.field("key", &format_args!("{key}"));
        }
        d.field("len", &self.0.len()).finish()
    }
}

impl Serialize for Sealed {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_bytes(&self.0)
    }
}

impl<'de> Deserialize<'de> for Sealed {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_byte_buf(SealedVisitor)
    }
}

/// Bytes (compact formats) or a sequence of numbers (JSON), at most [`MAX_SEALED_LEN`].
struct SealedVisitor;

impl<'de> Visitor<'de> for SealedVisitor {
    type Value = Sealed;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "a sealed value of at most {MAX_SEALED_LEN} bytes")
    }

    fn visit_bytes<E: de::Error>(self, v: &[u8]) -> Result<Sealed, E> {
        self.visit_byte_buf(v.to_vec())
    }

    fn visit_byte_buf<E: de::Error>(self, v: Vec<u8>) -> Result<Sealed, E> {
        if v.len() > MAX_SEALED_LEN {
            return Err(E::invalid_length(v.len(), &self));
        }
        Ok(Sealed(v))
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Sealed, A::Error> {
        let hint = seq.size_hint().unwrap_or(0).min(MAX_SEALED_LEN);
        let mut bytes = Vec::with_capacity(hint);
        while let Some(b) = seq.next_element::<u8>()? {
            if bytes.len() == MAX_SEALED_LEN {
                return Err(de::Error::invalid_length(bytes.len() + 1, &self));
            }
            bytes.push(b);
        }
        Ok(Sealed(bytes))
    }
}

/// An opened secret. Wiped on drop; `Debug` prints `***`.
pub struct SecretBytes(Zeroizing<Vec<u8>>);

impl SecretBytes {
    /// The secret itself: only at the place that uses it (logging in to a router).
    pub fn expose(&self) -> &[u8] {
        &self.0
    }

    /// The secret as text (router passwords are text).
    pub fn expose_str(&self) -> Result<&str, std::str::Utf8Error> {
        std::str::from_utf8(&self.0)
    }
}

impl fmt::Debug for SecretBytes {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("SecretBytes(***)")
    }
}

/// Why a value could not be sealed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum SealError {
    #[error("secret of {len} bytes is longer than the {max}-byte limit")]
    TooLong { len: usize, max: usize },
    /// The current key reached [`HARD_SEAL_LIMIT`]: rotate to a new key.
    #[error("master key {key} has sealed {seals} values, its limit; rotate to a new key")]
    KeyExhausted { key: KeyId, seals: u64 },
    /// The AEAD refused; cannot happen within [`MAX_PLAINTEXT_LEN`], kept so there is no panic
    /// path.
    #[error("AES-GCM refused to seal")]
    Cipher,
}

/// What is wrong with a sealed value's layout (checked before any key is used).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum FormatError {
    #[error("empty")]
    Empty,
    #[error("format version {0} (this build reads version {FORMAT_VERSION})")]
    UnsupportedVersion(u8),
    #[error("{len} bytes, shorter than the {MIN_SEALED_LEN}-byte minimum")]
    Truncated { len: usize },
    #[error("{len} bytes, longer than the {MAX_SEALED_LEN}-byte maximum")]
    TooLong { len: usize },
}

/// Why a sealed value did not open. None of these carry plaintext or key bytes.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum OpenError {
    /// Not a sealed value of a version this build reads.
    #[error("not a sealed value: {0}")]
    BadFormat(#[from] FormatError),
    /// Sealed under a key this keyring does not hold (an old key file is missing).
    #[error("sealed under master key {0}, which is not loaded; restore its key file")]
    UnknownKey(KeyId),
    /// Authentication failed: the bytes were altered, or the value was moved to another place.
    #[error("sealed value failed authentication (altered, or moved from another record)")]
    Tampered,
}

/// Why a keyring change was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum KeyringError {
    /// Two keys with one id: values sealed under it could open with only one of them.
    #[error("master key {0} is already in the keyring")]
    DuplicateKey(KeyId),
    /// Key ids only grow, so "the current key is the highest id" holds on every restart.
    #[error("cannot rotate to {new}: it must be newer than {newest}")]
    NotNewer { new: KeyId, newest: KeyId },
    #[error("master key {0} is not in the keyring")]
    UnknownKey(KeyId),
}

struct Slot {
    cipher: Aes256Gcm,
    seals: AtomicU64,
}

impl Slot {
    fn new(key: &MasterKey) -> Self {
        Slot {
            cipher: Aes256Gcm::new((&key.bytes).into()),
            seals: AtomicU64::new(0),
        }
    }
}

/// The current master key and older ones. Seals with the current key, opens with the key a value
/// names. Shareable across threads (`&self` everywhere but key changes).
pub struct Keyring {
    current: KeyId,
    keys: BTreeMap<KeyId, Slot>,
}

impl Keyring {
    /// A keyring holding one key, which is current.
    pub fn new(current: MasterKey) -> Self {
        let mut keys = BTreeMap::new();
        keys.insert(current.id, Slot::new(&current));
        Keyring {
            current: current.id,
            keys,
        }
    }

    /// Adds an older key, kept only to open values sealed under it.
    pub fn add_retired(&mut self, key: MasterKey) -> Result<(), KeyringError> {
        if self.keys.contains_key(&key.id) {
            return Err(KeyringError::DuplicateKey(key.id));
        }
        self.keys.insert(key.id, Slot::new(&key));
        Ok(())
    }

    /// Makes `new_key` current; the previous keys stay for opening. Its id must be higher than
    /// every id held.
    pub fn rotate_to(&mut self, new_key: MasterKey) -> Result<(), KeyringError> {
        let newest = self.newest_id();
        if self.keys.contains_key(&new_key.id) {
            return Err(KeyringError::DuplicateKey(new_key.id));
        }
        if new_key.id <= newest {
            return Err(KeyringError::NotNewer {
                new: new_key.id,
                newest,
            });
        }
        self.keys.insert(new_key.id, Slot::new(&new_key));
        self.current = new_key.id;
        Ok(())
    }

    pub fn current_id(&self) -> KeyId {
        self.current
    }

    /// Ids of every key held, ascending.
    pub fn key_ids(&self) -> impl Iterator<Item = KeyId> + '_ {
        self.keys.keys().copied()
    }

    pub fn contains(&self, id: KeyId) -> bool {
        self.keys.contains_key(&id)
    }

    fn newest_id(&self) -> KeyId {
        self.keys
            .keys()
            .next_back()
            .copied()
            .unwrap_or(self.current)
    }

    /// Values sealed under `id` since this keyring was built (plus any restored count).
    pub fn seal_count(&self, id: KeyId) -> Option<u64> {
        self.keys.get(&id).map(|s| s.seals.load(Ordering::Relaxed))
    }

    /// Raises the counter of `id` to `count` (never lowers it): the caller persisted how many
    /// values earlier runs sealed.
    pub fn restore_seal_count(&self, id: KeyId, count: u64) -> Result<(), KeyringError> {
        let slot = self.keys.get(&id).ok_or(KeyringError::UnknownKey(id))?;
        slot.seals.fetch_max(count, Ordering::Relaxed);
        Ok(())
    }

    /// Whether the current key has sealed `threshold` values or more (see
    /// [`DEFAULT_ROTATE_AFTER`]).
    pub fn needs_rotation(&self, threshold: u64) -> bool {
        self.seal_count(self.current)
            .is_some_and(|count| count >= threshold)
    }

    /// Seals `plaintext` for `place` under the current key with a fresh random nonce.
    pub fn seal(
        &self,
        place: &Place,
        plaintext: &[u8],
        rng: &mut (impl CryptoRng + ?Sized),
    ) -> Result<Sealed, SealError> {
        if plaintext.len() > MAX_PLAINTEXT_LEN {
            return Err(SealError::TooLong {
                len: plaintext.len(),
                max: MAX_PLAINTEXT_LEN,
            });
        }
        let key = self.current;
        let Some(slot) = self.keys.get(&key) else {
            // `new` and `rotate_to` insert the current key before naming it.
            unreachable!("current key {key} is always in the keyring");
        };
        slot.seals
            .fetch_update(Ordering::Relaxed, Ordering::Relaxed, |n| {
                (n < HARD_SEAL_LIMIT).then_some(n + 1)
            })
            .map_err(|seals| SealError::KeyExhausted { key, seals })?;

        let mut nonce = [0u8; NONCE_LEN];
        rng.fill_bytes(&mut nonce);
        let mut out = Vec::with_capacity(HEADER_LEN + plaintext.len() + TAG_LEN);
        out.push(FORMAT_VERSION);
        out.extend_from_slice(&key.0.to_be_bytes());
        out.extend_from_slice(&nonce);
        out.extend_from_slice(plaintext);
        let aad = place.associated_data(key);
        let tag = slot.cipher.encrypt_inout_detached(
            (&nonce).into(),
            &aad,
            (&mut out[HEADER_LEN..]).into(),
        );
        match tag {
            Ok(tag) => {
                out.extend_from_slice(&tag);
                Ok(Sealed(out))
            }
            Err(_) => {
                out.zeroize();
                Err(SealError::Cipher)
            }
        }
    }

    /// Opens a value sealed for `place`, with the key it names.
    pub fn open(&self, place: &Place, sealed: &Sealed) -> Result<SecretBytes, OpenError> {
        let bytes = sealed.as_bytes();
        match bytes.first() {
            None => return Err(FormatError::Empty.into()),
            Some(&FORMAT_VERSION) => {}
            Some(&v) => return Err(FormatError::UnsupportedVersion(v).into()),
        }
        let len = bytes.len();
        if len < MIN_SEALED_LEN {
            return Err(FormatError::Truncated { len }.into());
        }
        if len > MAX_SEALED_LEN {
            return Err(FormatError::TooLong { len }.into());
        }
        let (header, body) = bytes.split_at(HEADER_LEN);
        let (ciphertext, tag) = body.split_at(body.len() - TAG_LEN);
        let key = KeyId(u32::from_be_bytes([
            header[1], header[2], header[3], header[4],
        ]));
        let nonce: &[u8; NONCE_LEN] = header[5..]
            .try_into()
            .map_err(|_| FormatError::Truncated { len })?;
        let tag = Tag::try_from(tag).map_err(|_| FormatError::Truncated { len })?;
        let slot = self.keys.get(&key).ok_or(OpenError::UnknownKey(key))?;

        let aad = place.associated_data(key);
        let mut plain = Zeroizing::new(ciphertext.to_vec());
        slot.cipher
            .decrypt_inout_detached(nonce.into(), &aad, plain.as_mut_slice().into(), &tag)
            .map_err(|_| OpenError::Tampered)?;
        Ok(SecretBytes(plain))
    }
}

impl fmt::Debug for Keyring {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let counts: BTreeMap<String, u64> = self
            .keys
            .iter()
            .map(|(id, s)| (id.to_string(), s.seals.load(Ordering::Relaxed)))
            .collect();
        f.debug_struct("Keyring")
            .field("current", &format_args!("{}", self.current))
            .field("seals", &counts)
            .finish()
    }
}

/// A secret as a record stores it: sealed, or plain text left by an older version.
///
/// In human-readable formats (JSON) a string is [`StoredSecret::LegacyPlain`], so an old
/// `"password": "x"` reads as such, and sealed bytes are an array of numbers. In compact formats
/// (postcard in the database) it is an enum with `Sealed` as variant 0. Serializing `LegacyPlain` fails:
/// re-seal it first ([`StoredSecret::reseal_if_plain`]).
#[derive(Clone, PartialEq, Eq)]
pub enum StoredSecret {
    Sealed(Sealed),
    LegacyPlain(Zeroizing<String>),
}

impl StoredSecret {
    pub fn is_plain(&self) -> bool {
        matches!(self, StoredSecret::LegacyPlain(_))
    }

    /// The secret: opened if sealed, or the legacy plain text as is.
    pub fn open(&self, keyring: &Keyring, place: &Place) -> Result<SecretBytes, OpenError> {
        match self {
            StoredSecret::Sealed(sealed) => keyring.open(place, sealed),
            StoredSecret::LegacyPlain(plain) => {
                Ok(SecretBytes(Zeroizing::new(plain.as_bytes().to_vec())))
            }
        }
    }

    /// For a legacy plain-text value, the sealed value to write in its place; `None` if it is
    /// already sealed.
    pub fn reseal_if_plain(
        &self,
        keyring: &Keyring,
        place: &Place,
        rng: &mut (impl CryptoRng + ?Sized),
    ) -> Result<Option<Sealed>, SealError> {
        match self {
            StoredSecret::Sealed(_) => Ok(None),
            StoredSecret::LegacyPlain(plain) => {
                keyring.seal(place, plain.as_bytes(), rng).map(Some)
            }
        }
    }
}

impl From<Sealed> for StoredSecret {
    fn from(sealed: Sealed) -> Self {
        StoredSecret::Sealed(sealed)
    }
}

impl fmt::Debug for StoredSecret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            StoredSecret::Sealed(s) => f.debug_tuple("Sealed").field(s).finish(),
            StoredSecret::LegacyPlain(_) => f.write_str("LegacyPlain(***)"),
        }
    }
}

/// The compact (postcard) shape of [`StoredSecret`].
#[derive(Deserialize)]
enum CompactStored {
    Sealed(Sealed),
    LegacyPlain(String),
}

impl Serialize for StoredSecret {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        match self {
            StoredSecret::LegacyPlain(_) => Err(serde::ser::Error::custom(
                "refusing to store a plain-text secret; reseal it first",
            )),
            StoredSecret::Sealed(sealed) if serializer.is_human_readable() => {
                sealed.serialize(serializer)
            }
            StoredSecret::Sealed(sealed) => {
                serializer.serialize_newtype_variant("StoredSecret", 0, "Sealed", sealed)
            }
        }
    }
}

impl<'de> Deserialize<'de> for StoredSecret {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        if deserializer.is_human_readable() {
            deserializer.deserialize_any(HumanStoredVisitor)
        } else {
            Ok(match CompactStored::deserialize(deserializer)? {
                CompactStored::Sealed(s) => StoredSecret::Sealed(s),
                CompactStored::LegacyPlain(p) => StoredSecret::LegacyPlain(Zeroizing::new(p)),
            })
        }
    }
}

/// A string is a legacy plain-text secret; bytes or a sequence are a sealed value.
struct HumanStoredVisitor;

impl<'de> Visitor<'de> for HumanStoredVisitor {
    type Value = StoredSecret;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a sealed value (bytes) or a plain-text password from an older record")
    }

    fn visit_str<E: de::Error>(self, v: &str) -> Result<StoredSecret, E> {
        Ok(StoredSecret::LegacyPlain(Zeroizing::new(v.to_owned())))
    }

    fn visit_string<E: de::Error>(self, v: String) -> Result<StoredSecret, E> {
        Ok(StoredSecret::LegacyPlain(Zeroizing::new(v)))
    }

    fn visit_bytes<E: de::Error>(self, v: &[u8]) -> Result<StoredSecret, E> {
        SealedVisitor.visit_bytes(v).map(StoredSecret::Sealed)
    }

    fn visit_byte_buf<E: de::Error>(self, v: Vec<u8>) -> Result<StoredSecret, E> {
        SealedVisitor.visit_byte_buf(v).map(StoredSecret::Sealed)
    }

    fn visit_seq<A: SeqAccess<'de>>(self, seq: A) -> Result<StoredSecret, A::Error> {
        SealedVisitor.visit_seq(seq).map(StoredSecret::Sealed)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use rand::SeedableRng;
    use rand::rngs::StdRng;

    fn key(id: u32, fill: u8) -> MasterKey {
        MasterKey::from_bytes(KeyId(id), [fill; KEY_LEN])
    }

    fn rng() -> StdRng {
        StdRng::seed_from_u64(7)
    }

    fn router(id: &str) -> Place {
        Place::router_password(id)
    }

    #[test]
    fn round_trip_and_layout() {
        let ring = Keyring::new(key(1, 0xAA));
        let sealed = ring.seal(&router("r1"), b"hunter2", &mut rng()).unwrap();
        let b = sealed.as_bytes();
        assert_eq!(b.len(), HEADER_LEN + 7 + TAG_LEN);
        assert_eq!(b[0], FORMAT_VERSION);
        assert_eq!(&b[1..5], &1u32.to_be_bytes());
        assert_eq!(sealed.key_id(), Some(KeyId(1)));
        let opened = ring.open(&router("r1"), &sealed).unwrap();
        assert_eq!(opened.expose(), b"hunter2");
        assert_eq!(opened.expose_str(), Ok("hunter2"));
        assert_eq!(ring.seal_count(KeyId(1)), Some(1));
    }

    #[test]
    fn another_place_is_tampered() {
        let ring = Keyring::new(key(1, 1));
        let sealed = ring.seal(&router("r1"), b"pw", &mut rng()).unwrap();
        for other in [
            router("r2"),
            router("r1 "),
            Place::new("staff-password", "r1"),
        ] {
            assert_eq!(ring.open(&other, &sealed).unwrap_err(), OpenError::Tampered);
        }
    }

    #[test]
    fn associated_data_is_unambiguous() {
        let a = Place::new("ab", "c").associated_data(KeyId(1));
        let b = Place::new("a", "bc").associated_data(KeyId(1));
        assert_ne!(a, b);
        let k2 = Place::new("ab", "c").associated_data(KeyId(2));
        assert_ne!(a, k2);
    }

    #[test]
    fn every_flipped_bit_fails() {
        let ring = Keyring::new(key(1, 3));
        let place = router("r1");
        let sealed = ring.seal(&place, b"secret", &mut rng()).unwrap();
        for i in 0..sealed.as_bytes().len() * 8 {
            let mut bytes = sealed.as_bytes().to_vec();
            bytes[i / 8] ^= 1 << (i % 8);
            let err = ring.open(&place, &Sealed::from_bytes(bytes)).unwrap_err();
            match i / 8 {
                0 => assert!(matches!(err, OpenError::BadFormat(_)), "bit {i}: {err}"),
                1..=4 => assert!(matches!(err, OpenError::UnknownKey(_)), "bit {i}: {err}"),
                _ => assert_eq!(err, OpenError::Tampered, "bit {i}"),
            }
        }
    }

    #[test]
    fn relabelled_key_id_is_tampered() {
        // Both keys held and identical: only the key id in the AAD tells them apart.
        let mut ring = Keyring::new(key(1, 9));
        ring.rotate_to(key(2, 9)).unwrap();
        let place = router("r1");
        let mut bytes = ring.seal(&place, b"pw", &mut rng()).unwrap().into_bytes();
        bytes[1..5].copy_from_slice(&1u32.to_be_bytes());
        let err = ring.open(&place, &Sealed::from_bytes(bytes)).unwrap_err();
        assert_eq!(err, OpenError::Tampered);
    }

    #[test]
    fn unknown_key() {
        let sealed = Keyring::new(key(5, 1))
            .seal(&router("r"), b"pw", &mut rng())
            .unwrap();
        let err = Keyring::new(key(1, 1))
            .open(&router("r"), &sealed)
            .unwrap_err();
        assert_eq!(err, OpenError::UnknownKey(KeyId(5)));
        assert_eq!(
            err.to_string(),
            "sealed under master key k5, which is not loaded; restore its key file"
        );
    }

    #[test]
    fn truncated_and_malformed() {
        let ring = Keyring::new(key(1, 1));
        let place = router("r");
        let sealed = ring.seal(&place, b"pw", &mut rng()).unwrap();
        for n in 0..sealed.as_bytes().len() {
            let cut = Sealed::from_bytes(sealed.as_bytes()[..n].to_vec());
            let err = ring.open(&place, &cut).unwrap_err();
            let expected_format = n < MIN_SEALED_LEN;
            assert_eq!(
                matches!(err, OpenError::BadFormat(_)),
                expected_format,
                "{n}: {err}"
            );
        }
        let err = ring.open(&place, &Sealed::from_bytes(vec![])).unwrap_err();
        assert_eq!(err, OpenError::BadFormat(FormatError::Empty));
        let err = ring
            .open(&place, &Sealed::from_bytes(vec![2; 40]))
            .unwrap_err();
        assert_eq!(
            err,
            OpenError::BadFormat(FormatError::UnsupportedVersion(2))
        );
        let mut long = vec![1u8; MAX_SEALED_LEN + 1];
        long[1..5].copy_from_slice(&1u32.to_be_bytes());
        let err = ring.open(&place, &Sealed::from_bytes(long)).unwrap_err();
        assert!(matches!(
            err,
            OpenError::BadFormat(FormatError::TooLong { .. })
        ));
    }

    #[test]
    fn too_long_plaintext_is_refused() {
        let ring = Keyring::new(key(1, 1));
        let big = vec![0u8; MAX_PLAINTEXT_LEN + 1];
        let err = ring.seal(&router("r"), &big, &mut rng()).unwrap_err();
        assert!(matches!(err, SealError::TooLong { .. }));
        assert_eq!(ring.seal_count(KeyId(1)), Some(0));
        let max = vec![0u8; MAX_PLAINTEXT_LEN];
        let sealed = ring.seal(&router("r"), &max, &mut rng()).unwrap();
        assert_eq!(sealed.as_bytes().len(), MAX_SEALED_LEN);
        assert_eq!(ring.open(&router("r"), &sealed).unwrap().expose(), &max[..]);
    }

    #[test]
    fn rotation_keeps_old_values_readable() {
        let mut ring = Keyring::new(key(1, 1));
        let place = router("r1");
        let old = ring.seal(&place, b"old", &mut rng()).unwrap();
        ring.rotate_to(key(2, 2)).unwrap();
        assert_eq!(ring.current_id(), KeyId(2));
        let new = ring.seal(&place, b"new", &mut rng()).unwrap();
        assert_eq!(new.key_id(), Some(KeyId(2)));
        assert_eq!(old.key_id(), Some(KeyId(1)));
        assert_eq!(ring.open(&place, &old).unwrap().expose(), b"old");
        assert_eq!(ring.open(&place, &new).unwrap().expose(), b"new");
        assert_eq!(ring.key_ids().collect::<Vec<_>>(), [KeyId(1), KeyId(2)]);

        assert_eq!(
            ring.rotate_to(key(2, 3)).unwrap_err(),
            KeyringError::DuplicateKey(KeyId(2))
        );
        assert_eq!(
            ring.rotate_to(key(1, 3)).unwrap_err(),
            KeyringError::DuplicateKey(KeyId(1))
        );
        let mut ring = Keyring::new(key(3, 1));
        assert_eq!(
            ring.rotate_to(key(2, 3)).unwrap_err(),
            KeyringError::NotNewer {
                new: KeyId(2),
                newest: KeyId(3)
            }
        );
        ring.add_retired(key(2, 2)).unwrap();
        assert_eq!(ring.current_id(), KeyId(3));
    }

    #[test]
    fn nonces_differ() {
        let ring = Keyring::new(key(1, 1));
        let mut r = rng();
        let a = ring.seal(&router("r"), b"same", &mut r).unwrap();
        let b = ring.seal(&router("r"), b"same", &mut r).unwrap();
        assert_ne!(a.as_bytes()[5..HEADER_LEN], b.as_bytes()[5..HEADER_LEN]);
        assert_ne!(a, b);
    }

    #[test]
    fn seal_counter_and_limit() {
        let mut ring = Keyring::new(key(1, 1));
        assert!(!ring.needs_rotation(2));
        ring.seal(&router("r"), b"a", &mut rng()).unwrap();
        ring.seal(&router("r"), b"b", &mut rng()).unwrap();
        assert!(ring.needs_rotation(2));
        ring.restore_seal_count(KeyId(1), 1).unwrap();
        assert_eq!(ring.seal_count(KeyId(1)), Some(2), "restore never lowers");
        ring.restore_seal_count(KeyId(1), HARD_SEAL_LIMIT).unwrap();
        let err = ring.seal(&router("r"), b"c", &mut rng()).unwrap_err();
        assert_eq!(
            err,
            SealError::KeyExhausted {
                key: KeyId(1),
                seals: HARD_SEAL_LIMIT
            }
        );
        ring.rotate_to(key(2, 2)).unwrap();
        assert!(!ring.needs_rotation(DEFAULT_ROTATE_AFTER));
        ring.seal(&router("r"), b"c", &mut rng()).unwrap();
        assert_eq!(
            ring.restore_seal_count(KeyId(9), 1).unwrap_err(),
            KeyringError::UnknownKey(KeyId(9))
        );
    }

    #[test]
    fn debug_shows_no_secrets() {
        let k = key(4, 0x5A);
        assert_eq!(
            format!("{k:?}"),
            r#"MasterKey { id: KeyId(4), bytes: "***" }"#
        );
        let ring = Keyring::new(k);
        let sealed = ring.seal(&router("r"), b"hunter2", &mut rng()).unwrap();
        let opened = ring.open(&router("r"), &sealed).unwrap();
        let legacy = StoredSecret::LegacyPlain(Zeroizing::new("hunter2".into()));
        for s in [
            format!("{ring:?}"),
            format!("{sealed:?}"),
            format!("{opened:?}"),
            format!("{legacy:?}"),
        ] {
            assert!(!s.contains("hunter2") && !s.contains("90"), "{s}");
        }
        assert_eq!(format!("{sealed:?}"), "Sealed { key: k4, len: 40 }");
    }

    #[test]
    fn key_id_text() {
        assert_eq!(KeyId(12).to_string(), "k12");
        assert_eq!("k12".parse(), Ok(KeyId(12)));
        for bad in ["", "k", "12", "k-1", "k+1", "K1", "k99999999999"] {
            assert!(bad.parse::<KeyId>().is_err(), "{bad}");
        }
    }

    #[test]
    fn stored_secret_migrates_legacy_plain_text() {
        #[derive(Serialize, Deserialize)]
        struct Router {
            name: String,
            password: StoredSecret,
        }
        let ring = Keyring::new(key(1, 1));
        let place = router("r1");
        let old: Router = serde_json::from_str(r#"{"name":"gw","password":"hunter2"}"#).unwrap();
        assert!(old.password.is_plain());
        assert_eq!(
            old.password.open(&ring, &place).unwrap().expose(),
            b"hunter2"
        );
        assert!(
            serde_json::to_string(&old).is_err(),
            "plain text must never be written back"
        );

        let sealed = old
            .password
            .reseal_if_plain(&ring, &place, &mut rng())
            .unwrap()
            .unwrap();
        let new = Router {
            name: old.name,
            password: sealed.into(),
        };
        let json = serde_json::to_string(&new).unwrap();
        assert!(!json.contains("hunter2"));
        let back: Router = serde_json::from_str(&json).unwrap();
        assert!(!back.password.is_plain());
        assert_eq!(
            back.password.open(&ring, &place).unwrap().expose(),
            b"hunter2"
        );
        assert_eq!(
            back.password.reseal_if_plain(&ring, &place, &mut rng()),
            Ok(None)
        );

        let bytes = postcard::to_stdvec(&back.password).unwrap();
        let again: StoredSecret = postcard::from_bytes(&bytes).unwrap();
        assert_eq!(again, back.password);
        assert!(postcard::to_stdvec(&old.password).is_err());
    }

    #[test]
    fn sealed_serde_round_trips() {
        let ring = Keyring::new(key(1, 1));
        let sealed = ring.seal(&router("r"), b"pw", &mut rng()).unwrap();
        let bytes = postcard::to_stdvec(&sealed).unwrap();
        assert_eq!(
            bytes.len(),
            1 + sealed.as_bytes().len(),
            "length prefix + raw bytes"
        );
        assert_eq!(postcard::from_bytes::<Sealed>(&bytes).unwrap(), sealed);
        let json = serde_json::to_string(&sealed).unwrap();
        assert_eq!(serde_json::from_str::<Sealed>(&json).unwrap(), sealed);
        let too_long = serde_json::to_string(&vec![0u8; MAX_SEALED_LEN + 1]).unwrap();
        assert!(serde_json::from_str::<Sealed>(&too_long).is_err());
    }

    fn any_place() -> impl Strategy<Value = Place> {
        (
            prop::sample::select(vec![ROUTER_PASSWORD, "agent-credential", ""]),
            ".{0,40}",
        )
            .prop_map(|(kind, id)| Place::new(kind, id))
    }

    proptest! {
        #[test]
        fn open_inverts_seal(
            plaintext in prop::collection::vec(any::<u8>(), 0..512),
            place in any_place(),
            key_bytes in any::<[u8; KEY_LEN]>(),
            id in any::<u32>(),
            seed in any::<u64>(),
        ) {
            let ring = Keyring::new(MasterKey::from_bytes(KeyId(id), key_bytes));
            let sealed = ring.seal(&place, &plaintext, &mut StdRng::seed_from_u64(seed)).unwrap();
            let opened = ring.open(&place, &sealed).unwrap();
            prop_assert_eq!(opened.expose(), &plaintext[..]);
        }

        #[test]
        fn open_never_panics(
            bytes in prop::collection::vec(any::<u8>(), 0..128),
            header in any::<bool>(),
            place in any_place(),
        ) {
            let ring = Keyring::new(key(1, 1));
            let mut bytes = bytes;
            if header && bytes.len() >= 5 {
                // Reach the AEAD path, not only the format checks.
                bytes[0] = FORMAT_VERSION;
                bytes[1..5].copy_from_slice(&1u32.to_be_bytes());
            }
            let result = ring.open(&place, &Sealed::from_bytes(bytes));
            prop_assert!(result.is_err());
        }
    }
}
