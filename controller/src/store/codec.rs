//! How records and keys become bytes, in one place.
//!
//! - **Values** are `version (1 byte) ‖ postcard(record)`. postcard has no field names, so a
//!   record that gains a field gets a new version byte and a decode arm for the old shape; the
//!   byte is checked on every read, so a value from a newer build is a named error
//!   ([`StoreError::Corrupt`]) instead of garbage.
//! - **Keys** that must sort numerically are big-endian; signed times are big-endian with the
//!   sign bit flipped ([`time_key`]) so that 1969 sorts before 1970. Variable-length parts
//!   (site ids, codes) come last or are followed by a `0` byte (site ids never contain one).

use serde::Serialize;
use serde::de::DeserializeOwned;

use super::error::StoreError;

/// A value kept in a table: its name for errors and its current format version.
pub trait Record: Serialize + DeserializeOwned {
    const KIND: &'static str;
    const VERSION: u8 = 1;
}

pub fn encode<T: Record>(value: &T) -> Result<Vec<u8>, StoreError> {
    postcard::to_extend(value, vec![T::VERSION]).map_err(|e| StoreError::Encode {
        kind: T::KIND,
        detail: e.to_string(),
    })
}

pub fn decode<T: Record>(bytes: &[u8]) -> Result<T, StoreError> {
    let corrupt = |detail: String| StoreError::Corrupt {
        kind: T::KIND,
        detail,
    };
    match bytes.split_first() {
        Some((&v, body)) if v == T::VERSION => {
            postcard::from_bytes(body).map_err(|e| corrupt(e.to_string()))
        }
        Some((&v, _)) => Err(corrupt(format!(
            "format version {v}, this build reads {}",
            T::VERSION
        ))),
        None => Err(corrupt("empty value".into())),
    }
}

/// A Unix time as an order-preserving key part.
pub fn time_key(t: i64) -> [u8; 8] {
    ((t as u64) ^ (1 << 63)).to_be_bytes()
}

/// Inverse of [`time_key`].
pub fn time_of(bytes: &[u8]) -> Option<i64> {
    let arr: [u8; 8] = bytes.get(..8)?.try_into().ok()?;
    Some((u64::from_be_bytes(arr) ^ (1 << 63)) as i64)
}

pub fn u64_of(bytes: &[u8]) -> Option<u64> {
    Some(u64::from_be_bytes(bytes.get(..8)?.try_into().ok()?))
}

/// The UTC day number (days since 1970-01-01) of a Unix time.
pub fn day_of(t: i64) -> i64 {
    t.div_euclid(86_400)
}

/// `YYYY-MM-DD` of a UTC day number.
pub fn date_of_day(day: i64) -> String {
    let date = time::OffsetDateTime::from_unix_timestamp(day.saturating_mul(86_400))
        .map(|t| t.date())
        .unwrap_or(time::Date::MIN);
    format!(
        "{:04}-{:02}-{:02}",
        date.year(),
        u8::from(date.month()),
        date.day()
    )
}

/// The UTC day number of a `YYYY-MM-DD` date.
pub fn day_of_date(date: &str) -> Result<i64, StoreError> {
    let format = time::macros::format_description!("[year]-[month]-[day]");
    let parsed = time::Date::parse(date, &format)
        .map_err(|e| StoreError::Invalid(format!("date {date:?} is not YYYY-MM-DD: {e}")))?;
    let midnight = parsed.midnight().assume_utc().unix_timestamp();
    Ok(day_of(midnight))
}

pub fn hex(bytes: &[u8]) -> String {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    let mut s = String::with_capacity(bytes.len() * 2);
    for b in bytes {
        s.push(char::from(DIGITS[usize::from(b >> 4)]));
        s.push(char::from(DIGITS[usize::from(b & 15)]));
    }
    s
}

pub fn unhex(s: &str) -> Option<Vec<u8>> {
    let digit = |c: u8| (c as char).to_digit(16).map(|d| d as u8);
    let b = s.as_bytes();
    if !b.len().is_multiple_of(2) {
        return None;
    }
    b.chunks(2)
        .map(|p| Some(digit(p[0])? << 4 | digit(p[1])?))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde::Deserialize;

    #[derive(Debug, PartialEq, Serialize, Deserialize)]
    struct Thing {
        a: u32,
        b: String,
    }
    impl Record for Thing {
        const KIND: &'static str = "thing";
        const VERSION: u8 = 3;
    }

    #[test]
    fn values_carry_their_version() {
        let t = Thing {
            a: 7,
            b: "x".into(),
        };
        let bytes = encode(&t).unwrap();
        assert_eq!(bytes[0], 3);
        assert_eq!(decode::<Thing>(&bytes).unwrap(), t);
        let mut newer = bytes.clone();
        newer[0] = 4;
        let err = decode::<Thing>(&newer).unwrap_err().to_string();
        assert!(err.contains("format version 4"), "{err}");
        assert!(decode::<Thing>(&[]).is_err());
        assert!(decode::<Thing>(&[3, 0xff]).is_err());
    }

    #[test]
    fn time_keys_sort_like_times() {
        let times = [i64::MIN, -86_400, -1, 0, 1, 1_700_000_000, i64::MAX];
        for w in times.windows(2) {
            assert!(time_key(w[0]) < time_key(w[1]), "{w:?}");
        }
        for t in times {
            assert_eq!(time_of(&time_key(t)), Some(t));
        }
    }

    #[test]
    fn days_and_dates() {
        assert_eq!(day_of(0), 0);
        assert_eq!(day_of(-1), -1);
        assert_eq!(day_of(86_399), 0);
        assert_eq!(date_of_day(0), "1970-01-01");
        assert_eq!(day_of_date("1970-01-02").unwrap(), 1);
        let d = day_of_date("2026-05-01").unwrap();
        assert_eq!(date_of_day(d), "2026-05-01");
        assert!(day_of_date("2026-5-1").is_err());
        assert!(day_of_date("yesterday").is_err());
    }

    #[test]
    fn hex_round_trips() {
        let bytes = [0u8, 1, 0xab, 0xff];
        assert_eq!(hex(&bytes), "0001abff");
        assert_eq!(unhex("0001ABff").unwrap(), bytes);
        assert_eq!(unhex("abc"), None);
        assert_eq!(unhex("zz"), None);
    }
}
