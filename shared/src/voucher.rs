//! Voucher codes: what a customer types into the hotspot login page.
//!
//! Codes come from an alphabet without the characters people confuse when they read a printed
//! card aloud or type it on a phone (`0`/`O`, `1`/`I`/`l`), upper case only because hotspot
//! login pages are typed on phones whose keyboards capitalise the first letter. The random
//! source is passed in: this crate does no IO.

use rand::{Rng, RngExt};

/// The unambiguous alphabet: A–Z without I and O, digits 2–9.
pub const ALPHABET: &[u8] = b"ABCDEFGHJKLMNPQRSTUVWXYZ23456789";

/// Random characters in a code, when not set.
pub const DEFAULT_LENGTH: usize = 8;
/// Bounds on the random part: below 6 a fleet-wide code space is too easy to guess or exhaust.
pub const MIN_LENGTH: usize = 6;
pub const MAX_LENGTH: usize = 20;
/// Longest prefix (RouterOS user names are short in practice; cards must stay readable).
pub const MAX_PREFIX: usize = 12;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CodeError {
    #[error("code length {0} is outside {MIN_LENGTH}..={MAX_LENGTH}")]
    Length(usize),
    #[error("prefix {0:?} must be at most {MAX_PREFIX} characters of A-Z, 0-9 or '-'")]
    Prefix(String),
}

/// How to make codes: an optional prefix and a number of random characters.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CodeSpec {
    prefix: String,
    length: usize,
}

impl CodeSpec {
    pub fn new(prefix: Option<&str>, length: Option<usize>) -> Result<Self, CodeError> {
        let length = length.unwrap_or(DEFAULT_LENGTH);
        if !(MIN_LENGTH..=MAX_LENGTH).contains(&length) {
            return Err(CodeError::Length(length));
        }
        let prefix = prefix.unwrap_or_default();
        let ok = |c: char| c.is_ascii_uppercase() || c.is_ascii_digit() || c == '-';
        if prefix.len() > MAX_PREFIX || !prefix.chars().all(ok) {
            return Err(CodeError::Prefix(prefix.to_owned()));
        }
        Ok(CodeSpec {
            prefix: prefix.to_owned(),
            length,
        })
    }

    /// One code: the prefix then `length` characters drawn uniformly from [`ALPHABET`].
    pub fn generate<R: Rng + ?Sized>(&self, rng: &mut R) -> String {
        let mut code = String::with_capacity(self.prefix.len() + self.length);
        code.push_str(&self.prefix);
        for _ in 0..self.length {
            code.push(char::from(ALPHABET[rng.random_range(0..ALPHABET.len())]));
        }
        code
    }
}

impl Default for CodeSpec {
    fn default() -> Self {
        CodeSpec {
            prefix: String::new(),
            length: DEFAULT_LENGTH,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;

    #[test]
    fn alphabet_has_no_confusable_characters() {
        for c in b"0O1Il" {
            assert!(!ALPHABET.contains(c), "{}", char::from(*c));
        }
        assert_eq!(ALPHABET.len(), 32);
    }

    #[test]
    fn codes_have_prefix_length_and_alphabet() {
        let spec = CodeSpec::new(Some("CAFE-"), Some(10)).expect("valid");
        let mut rng = rand::rngs::StdRng::seed_from_u64(7);
        for _ in 0..1000 {
            let code = spec.generate(&mut rng);
            assert_eq!(code.len(), 15);
            let rest = code.strip_prefix("CAFE-").expect("prefix");
            assert!(rest.bytes().all(|b| ALPHABET.contains(&b)), "{code}");
        }
    }

    #[test]
    fn every_character_is_used() {
        let mut rng = rand::rngs::StdRng::seed_from_u64(1);
        let spec = CodeSpec::default();
        let mut seen = [false; 256];
        for _ in 0..500 {
            for b in spec.generate(&mut rng).bytes() {
                seen[usize::from(b)] = true;
            }
        }
        assert!(ALPHABET.iter().all(|&b| seen[usize::from(b)]));
    }

    #[test]
    fn bad_specs_are_refused() {
        assert_eq!(CodeSpec::new(None, Some(5)), Err(CodeError::Length(5)));
        assert_eq!(CodeSpec::new(None, Some(21)), Err(CodeError::Length(21)));
        assert!(matches!(
            CodeSpec::new(Some("café"), None),
            Err(CodeError::Prefix(_))
        ));
        assert!(matches!(
            CodeSpec::new(Some("ABCDEFGHIJKLM"), None),
            Err(CodeError::Prefix(_))
        ));
    }
}
