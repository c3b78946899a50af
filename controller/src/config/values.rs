//! Config value types that check themselves while the TOML is read, so that a bad value is
//! reported by the TOML parser with its line and column.

use std::fmt;
use std::net::{IpAddr, SocketAddr};
use std::str::FromStr;

use serde::de::{self, Deserializer, Visitor};
use serde::{Deserialize, Serialize, Serializer};

use crate::auth::csrf::origin_of;

/// Implements `Deserialize` (through `FromStr`, with the error as the message) and `Serialize`
/// (through `Display`) for a string-valued config type.
macro_rules! string_value {
    ($ty:ty) => {
        impl<'de> Deserialize<'de> for $ty {
            fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
                let s = String::deserialize(d)?;
                s.parse().map_err(|e: String| de::Error::custom(e))
            }
        }
        impl Serialize for $ty {
            fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
                s.collect_str(self)
            }
        }
    };
}

/// A socket address whose port is not 0.
pub fn listen_addr<'de, D: Deserializer<'de>>(d: D) -> Result<SocketAddr, D::Error> {
    let s = String::deserialize(d)?;
    let addr: SocketAddr = s.parse().map_err(|_| {
        de::Error::custom(format!(
            "{s:?} is not an address to listen on; write IP:PORT, e.g. \"127.0.0.1:8080\" or \"[::]:8080\""
        ))
    })?;
    if addr.port() == 0 {
        return Err(de::Error::custom(
            "port 0 is not allowed; choose a port from 1 to 65535",
        ));
    }
    Ok(addr)
}

/// The URL people and agents use to reach the dashboard, e.g. `https://hotspot.example.com`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PublicUrl {
    url: String,
    origin: String,
}

impl PublicUrl {
    /// `scheme://host[:port]`, as browsers send it in `Origin`.
    pub fn origin(&self) -> &str {
        &self.origin
    }
    pub fn is_https(&self) -> bool {
        self.origin.starts_with("https://")
    }
    pub fn as_str(&self) -> &str {
        &self.url
    }
}

impl FromStr for PublicUrl {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        let url = s.trim().trim_end_matches('/');
        let origin = origin_of(url).ok_or_else(|| {
            format!("{s:?} is not an http:// or https:// URL with a host, e.g. \"https://hotspot.example.com\"")
        })?;
        Ok(PublicUrl {
            url: url.to_owned(),
            origin,
        })
    }
}

impl fmt::Display for PublicUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.url)
    }
}
string_value!(PublicUrl);

/// A local time of day, `HH:MM` (24-hour clock).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct TimeOfDay(pub time::Time);

impl FromStr for TimeOfDay {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        let bad = || {
            format!("{s:?} is not a time of day; write HH:MM on a 24-hour clock, e.g. \"02:00\"")
        };
        let (h, m) = s.trim().split_once(':').ok_or_else(bad)?;
        let two_digits = |v: &str| v.len() == 2 && v.bytes().all(|b| b.is_ascii_digit());
        if !two_digits(h) || !two_digits(m) {
            return Err(bad());
        }
        let (h, m): (u8, u8) = (h.parse().map_err(|_| bad())?, m.parse().map_err(|_| bad())?);
        time::Time::from_hms(h, m, 0)
            .map(TimeOfDay)
            .map_err(|_| bad())
    }
}

impl fmt::Display for TimeOfDay {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:02}:{:02}", self.0.hour(), self.0.minute())
    }
}
string_value!(TimeOfDay);

/// A fixed offset from UTC, `+HH:MM` or `-HH:MM` (`Z` means `+00:00`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Offset(pub time::UtcOffset);

impl FromStr for Offset {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        let bad = || {
            format!(
                "{s:?} is not a UTC offset; write +HH:MM or -HH:MM, e.g. \"+03:00\" (time zone names are not supported)"
            )
        };
        let t = s.trim();
        if t == "Z" {
            return Ok(Offset(time::UtcOffset::UTC));
        }
        let (sign, rest) = match t.as_bytes().first() {
            Some(b'+') => (1i8, &t[1..]),
            Some(b'-') => (-1i8, &t[1..]),
            _ => return Err(bad()),
        };
        let hm: TimeOfDay = rest.parse().map_err(|_| bad())?;
        let (h, m) = (hm.0.hour() as i8, hm.0.minute() as i8);
        if h > 14 {
            return Err(bad());
        }
        time::UtcOffset::from_hms(sign * h, sign * m, 0)
            .map(Offset)
            .map_err(|_| bad())
    }
}

impl fmt::Display for Offset {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let (h, m, _) = self.0.as_hms();
        let sign = if self.0.is_negative() { '-' } else { '+' };
        write!(f, "{sign}{:02}:{:02}", h.unsigned_abs(), m.unsigned_abs())
    }
}
string_value!(Offset);

/// Whether the session cookie gets `Secure` (and the `__Host-` name).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum CookieSecure {
    /// Secure when served over TLS or when `public_url` is `https://` (behind a TLS proxy).
    #[default]
    Auto,
    Always,
    Never,
}

impl<'de> Deserialize<'de> for CookieSecure {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl Visitor<'_> for V {
            type Value = CookieSecure;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("\"auto\", true or false")
            }
            fn visit_bool<E: de::Error>(self, v: bool) -> Result<CookieSecure, E> {
                Ok(if v {
                    CookieSecure::Always
                } else {
                    CookieSecure::Never
                })
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<CookieSecure, E> {
                match v {
                    "auto" => Ok(CookieSecure::Auto),
                    _ => Err(E::custom(format!(
                        "{v:?} is not allowed; write \"auto\", true or false"
                    ))),
                }
            }
        }
        d.deserialize_any(V)
    }
}

impl Serialize for CookieSecure {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match self {
            CookieSecure::Auto => s.serialize_str("auto"),
            CookieSecure::Always => s.serialize_bool(true),
            CookieSecure::Never => s.serialize_bool(false),
        }
    }
}

#[cfg(test)]
mod tests {

    #[test]
    fn proxy_networks_parse_match_and_print() {
        let net: ProxyNet = "10.0.0.0/8".parse().expect("network");
        assert!(net.contains("10.1.2.3".parse().expect("ip")));
        assert!(net.contains("::ffff:10.9.9.9".parse().expect("mapped")));
        assert!(!net.contains("11.0.0.1".parse().expect("ip")));
        assert!(!net.contains("::1".parse().expect("ip")));
        assert_eq!(net.to_string(), "10.0.0.0/8");
        let one: ProxyNet = " 127.0.0.1 ".parse().expect("address");
        assert!(one.contains("127.0.0.1".parse().expect("ip")));
        assert!(!one.contains("127.0.0.2".parse().expect("ip")));
        assert_eq!(one.to_string(), "127.0.0.1");
        let v6: ProxyNet = "fd00::/8".parse().expect("v6 network");
        assert!(v6.contains("fd12::1".parse().expect("ip")));
        assert!(!v6.contains("fe80::1".parse().expect("ip")));
        let all: ProxyNet = "0.0.0.0/0".parse().expect("everything");
        assert!(all.contains("203.0.113.9".parse().expect("ip")));
        for bad in [
            "10.0.0.0/33",
            "fd00::/129",
            "proxy.lan",
            "10.0.0.0/",
            "10.0.0/8",
            "",
        ] {
            let err = bad.parse::<ProxyNet>().expect_err(bad);
            assert!(err.contains("not an IP address or network"), "{bad}: {err}");
        }
    }
    use super::*;

    #[test]
    fn times_and_offsets_round_trip() {
        for t in ["00:00", "02:00", "23:59"] {
            assert_eq!(t.parse::<TimeOfDay>().unwrap().to_string(), t);
        }
        for bad in ["24:00", "2:00", "02:60", "noon", "02:00:00", ""] {
            assert!(bad.parse::<TimeOfDay>().is_err(), "{bad}");
        }
        for o in ["+03:00", "-05:30", "+00:00", "+14:00"] {
            assert_eq!(o.parse::<Offset>().unwrap().to_string(), o);
        }
        assert_eq!("Z".parse::<Offset>().unwrap().to_string(), "+00:00");
        for bad in ["03:00", "+15:00", "Europe/Paris", "+3", "+03:75"] {
            assert!(bad.parse::<Offset>().is_err(), "{bad}");
        }
    }
}

/// An address or network (`10.0.0.0/8`, `fd00::/8`, `127.0.0.1`) that requests may come
/// through from a reverse proxy.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ProxyNet {
    addr: IpAddr,
    prefix: u8,
}

impl ProxyNet {
    /// Whether `ip` is in this network (an IPv4-mapped IPv6 address counts as its IPv4 form).
    pub fn contains(&self, ip: IpAddr) -> bool {
        let ip = ip.to_canonical();
        let (net, ip, bits) = match (self.addr, ip) {
            (IpAddr::V4(n), IpAddr::V4(a)) => {
                (u128::from(n.to_bits()), u128::from(a.to_bits()), 32)
            }
            (IpAddr::V6(n), IpAddr::V6(a)) => (n.to_bits(), a.to_bits(), 128),
            _ => return false,
        };
        let prefix = u32::from(self.prefix);
        if prefix == 0 {
            return true;
        }
        let shift = bits - prefix;
        net >> shift == ip >> shift
    }
}

impl FromStr for ProxyNet {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        let bad = || {
            format!(
                "{s:?} is not an IP address or network; write e.g. \"127.0.0.1\", \"10.0.0.0/8\" or \"fd00::/8\""
            )
        };
        let t = s.trim();
        let (addr, prefix) = match t.split_once('/') {
            Some((a, p)) => (a, Some(p)),
            None => (t, None),
        };
        let addr: IpAddr = addr.parse().map_err(|_| bad())?;
        let addr = addr.to_canonical();
        let max = if addr.is_ipv4() { 32 } else { 128 };
        let prefix = match prefix {
            None => max,
            Some(p) => p.parse::<u8>().ok().filter(|p| *p <= max).ok_or_else(bad)?,
        };
        Ok(ProxyNet { addr, prefix })
    }
}

impl fmt::Display for ProxyNet {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let max = if self.addr.is_ipv4() { 32 } else { 128 };
        if self.prefix == max {
            write!(f, "{}", self.addr)
        } else {
            write!(f, "{}/{}", self.addr, self.prefix)
        }
    }
}
string_value!(ProxyNet);
