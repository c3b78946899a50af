//! Reading and writing property values the way the router does.
//!
//! Input: durations through `hotspot_shared::units::RosDuration` (compact `1h30m`, clock
//! `01:30:00`, bare seconds), byte counts as plain integers (the API never sends `1G`),
//! booleans as `yes`/`no`/`true`/`false`. Output: durations in the compact RouterOS 7 form,
//! booleans as `true`/`false` (what the API prints, whatever the console shows).

use hotspot_shared::units::{ByteCount, RosDuration};

use super::Trap;

pub fn duration(name: &str, v: &[u8]) -> Result<u64, Trap> {
    let s = std::str::from_utf8(v).map_err(|_| Trap::invalid_value(name))?;
    RosDuration::parse(s)
        .map(RosDuration::as_secs)
        .map_err(|_| Trap::invalid_value(name))
}

/// A duration that may also be `none` (→ `None`).
pub fn duration_or_none(name: &str, v: &[u8]) -> Result<Option<u64>, Trap> {
    if v == b"none" {
        Ok(None)
    } else {
        duration(name, v).map(Some)
    }
}

pub fn bytes(name: &str, v: &[u8]) -> Result<u64, Trap> {
    let s = std::str::from_utf8(v).map_err(|_| Trap::invalid_value(name))?;
    ByteCount::parse(s)
        .map(ByteCount::get)
        .map_err(|_| Trap::invalid_value(name))
}

pub fn boolean(name: &str, v: &[u8]) -> Result<bool, Trap> {
    match v {
        b"yes" | b"true" => Ok(true),
        b"no" | b"false" => Ok(false),
        _ => Err(Trap::invalid_value(name)),
    }
}

pub fn fmt_duration(secs: u64) -> String {
    RosDuration::from_secs(secs).to_string()
}

pub fn fmt_bool(b: bool) -> &'static str {
    if b { "true" } else { "false" }
}

/// `*1A` id or, as RouterOS also takes in `numbers`, an item name.
pub fn item_refs(v: &[u8]) -> impl Iterator<Item = &[u8]> {
    v.split(|&b| b == b',').filter(|s| !s.is_empty())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_bytes_and_booleans() {
        assert_eq!(duration("limit-uptime", b"1h30m").ok(), Some(5400));
        assert_eq!(duration("limit-uptime", b"01:30:00").ok(), Some(5400));
        assert!(duration("limit-uptime", b"soon").is_err());
        assert_eq!(duration_or_none("idle-timeout", b"none").ok(), Some(None));
        assert_eq!(
            bytes("limit-bytes-total", b"1073741824").ok(),
            Some(1 << 30)
        );
        assert!(bytes("limit-bytes-total", b"1G").is_err());
        assert_eq!(boolean("disabled", b"yes").ok(), Some(true));
        assert!(boolean("disabled", b"maybe").is_err());
        assert_eq!(fmt_duration(0), "0s");
        assert_eq!(fmt_duration(5400), "1h30m");
    }
}
