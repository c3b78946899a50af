//! Config value types that check themselves while the TOML is read, so that a bad value is
//! reported by the TOML parser with its line and column.

use std::fmt;
use std::net::SocketAddr;
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
