//! The word-length prefix of the RouterOS API.
//!
//! Big-endian, the high bits of the first byte give the size of the prefix:
//!
//! | length            | bytes | first byte  |
//! |-------------------|-------|-------------|
//! | `< 0x80`          | 1     | `0xxxxxxx`  |
//! | `< 0x4000`        | 2     | `10xxxxxx`  |
//! | `< 0x20_0000`     | 3     | `110xxxxx`  |
//! | `< 0x1000_0000`   | 4     | `1110xxxx`  |
//! | up to `u32::MAX`  | 5     | `11110000`  |
//!
//! First bytes `0xF1..=0xFF` (`0xF8..` are the documented "control bytes") are rejected: a
//! decoder that guessed would desynchronise from the stream.

/// Why a length prefix could not be read.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum LengthError {
    /// The first byte is not a valid prefix (`0xF1`–`0xFF`).
    #[error("reserved control byte 0x{0:02X} where a word length was expected")]
    ControlByte(u8),
}

/// Appends the prefix for a word of `len` bytes.
pub fn encode(len: u32, out: &mut Vec<u8>) {
    match len {
        0..=0x7F => out.push(len as u8),
        0x80..=0x3FFF => out.extend_from_slice(&((len | 0x8000) as u16).to_be_bytes()),
        0x4000..=0x1F_FFFF => out.extend_from_slice(&(len | 0xC0_0000).to_be_bytes()[1..]),
        0x20_0000..=0x0FFF_FFFF => out.extend_from_slice(&(len | 0xE000_0000).to_be_bytes()),
        _ => {
            out.push(0xF0);
            out.extend_from_slice(&len.to_be_bytes());
        }
    }
}

/// How many bytes the prefix that starts with `first` occupies.
pub fn prefix_len(first: u8) -> Result<usize, LengthError> {
    match first {
        0x00..=0x7F => Ok(1),
        0x80..=0xBF => Ok(2),
        0xC0..=0xDF => Ok(3),
        0xE0..=0xEF => Ok(4),
        0xF0 => Ok(5),
        other => Err(LengthError::ControlByte(other)),
    }
}

/// Reads a prefix at the start of `buf`.
///
/// `Ok(None)` when `buf` holds only part of it; otherwise the length and the prefix's size.
pub fn decode(buf: &[u8]) -> Result<Option<(u32, usize)>, LengthError> {
    let Some(&first) = buf.first() else {
        return Ok(None);
    };
    let n = prefix_len(first)?;
    if buf.len() < n {
        return Ok(None);
    }
    let len = match n {
        1 => u32::from(first),
        2 => u32::from(u16::from_be_bytes([first, buf[1]]) & 0x3FFF),
        3 => u32::from_be_bytes([0, first, buf[1], buf[2]]) & 0x1F_FFFF,
        4 => u32::from_be_bytes([first, buf[1], buf[2], buf[3]]) & 0x0FFF_FFFF,
        _ => u32::from_be_bytes([buf[1], buf[2], buf[3], buf[4]]),
    };
    Ok(Some((len, n)))
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn enc(len: u32) -> Vec<u8> {
        let mut v = Vec::new();
        encode(len, &mut v);
        v
    }

    #[test]
    fn each_form_at_its_edges() {
        // Byte strings from the RouterOS API manual's length table.
        let cases: &[(u32, &[u8])] = &[
            (0, &[0x00]),
            (0x7F, &[0x7F]),
            (0x80, &[0x80, 0x80]),
            (0x3FFF, &[0xBF, 0xFF]),
            (0x4000, &[0xC0, 0x40, 0x00]),
            (0x1F_FFFF, &[0xDF, 0xFF, 0xFF]),
            (0x20_0000, &[0xE0, 0x20, 0x00, 0x00]),
            (0x0FFF_FFFF, &[0xEF, 0xFF, 0xFF, 0xFF]),
            (0x1000_0000, &[0xF0, 0x10, 0x00, 0x00, 0x00]),
            (u32::MAX, &[0xF0, 0xFF, 0xFF, 0xFF, 0xFF]),
        ];
        for &(len, bytes) in cases {
            assert_eq!(enc(len), bytes, "encode {len:#x}");
            assert_eq!(
                decode(bytes),
                Ok(Some((len, bytes.len()))),
                "decode {len:#x}"
            );
            for cut in 0..bytes.len() {
                assert_eq!(
                    decode(&bytes[..cut]),
                    Ok(None),
                    "partial {len:#x} cut at {cut}"
                );
            }
        }
    }

    #[test]
    fn control_bytes_are_rejected() {
        for b in 0xF1..=0xFFu8 {
            assert_eq!(decode(&[b, 0, 0, 0, 0]), Err(LengthError::ControlByte(b)));
        }
    }

    proptest! {
        #[test]
        fn round_trip(len in any::<u32>(), tail in proptest::collection::vec(any::<u8>(), 0..4)) {
            let mut bytes = enc(len);
            let n = bytes.len();
            bytes.extend_from_slice(&tail);
            prop_assert_eq!(decode(&bytes), Ok(Some((len, n))));
        }

        #[test]
        fn shortest_form_is_used(len in any::<u32>()) {
            let n = enc(len).len();
            let expected = match len { 0..=0x7F => 1, 0x80..=0x3FFF => 2, 0x4000..=0x1F_FFFF => 3,
                0x20_0000..=0x0FFF_FFFF => 4, _ => 5 };
            prop_assert_eq!(n, expected);
        }
    }
}
