//! Money: integer minor units and an ISO 4217 currency code. Never floats.

use std::fmt;

use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum MoneyError {
    #[error("currency {0:?} is not a three-letter ISO 4217 code")]
    Currency(String),
    #[error("amounts in {0} and {1} cannot be added")]
    Mixed(Currency, Currency),
    #[error("amount overflow")]
    Overflow,
    #[error("price {0} is negative")]
    Negative(i64),
}

/// An ISO 4217 code: three ASCII upper-case letters.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Currency([u8; 3]);

impl Currency {
    pub fn new(code: &str) -> Result<Currency, MoneyError> {
        match code.as_bytes() {
            &[a, b, c] if [a, b, c].iter().all(u8::is_ascii_uppercase) => Ok(Currency([a, b, c])),
            _ => Err(MoneyError::Currency(code.to_owned())),
        }
    }

    pub fn as_str(&self) -> &str {
        // Constructed from ASCII upper-case letters only.
        std::str::from_utf8(&self.0).unwrap_or("XXX")
    }

    /// Digits after the decimal point. ISO 4217's zero-decimal currencies common where hotspots
    /// are sold are listed; everything else has two (three-decimal dinars are rare in this
    /// market and would display with two — the stored minor units stay exact either way).
    pub fn exponent(&self) -> u32 {
        match self.as_str() {
            "BIF" | "CLP" | "DJF" | "GNF" | "ISK" | "JPY" | "KMF" | "KRW" | "PYG" | "RWF"
            | "UGX" | "VND" | "VUV" | "XAF" | "XOF" | "XPF" => 0,
            _ => 2,
        }
    }
}

impl fmt::Debug for Currency {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl fmt::Display for Currency {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl Serialize for Currency {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.as_str())
    }
}

impl<'de> Deserialize<'de> for Currency {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        Currency::new(&s).map_err(serde::de::Error::custom)
    }
}

/// An amount in minor units (cents) of a currency.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Money {
    pub minor: i64,
    pub currency: Currency,
}

impl Money {
    pub fn new(minor: i64, currency: Currency) -> Money {
        Money { minor, currency }
    }

    pub fn checked_add(self, other: Money) -> Result<Money, MoneyError> {
        if self.currency != other.currency {
            return Err(MoneyError::Mixed(self.currency, other.currency));
        }
        let minor = self
            .minor
            .checked_add(other.minor)
            .ok_or(MoneyError::Overflow)?;
        Ok(Money {
            minor,
            currency: self.currency,
        })
    }

    pub fn checked_mul(self, n: u64) -> Result<Money, MoneyError> {
        let n = i64::try_from(n).map_err(|_| MoneyError::Overflow)?;
        let minor = self.minor.checked_mul(n).ok_or(MoneyError::Overflow)?;
        Ok(Money {
            minor,
            currency: self.currency,
        })
    }
}

impl fmt::Display for Money {
    /// `12.50 USD`, `5000 UGX`, `-0.05 EUR`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let exp = self.currency.exponent();
        if exp == 0 {
            return write!(f, "{} {}", self.minor, self.currency);
        }
        let scale = 10u64.pow(exp);
        let abs = self.minor.unsigned_abs();
        let sign = if self.minor < 0 { "-" } else { "" };
        write!(
            f,
            "{sign}{}.{:0width$} {}",
            abs / scale,
            abs % scale,
            self.currency,
            width = exp as usize
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn c(s: &str) -> Currency {
        Currency::new(s).expect("valid")
    }

    #[test]
    fn currency_codes_are_validated() {
        assert!(Currency::new("usd").is_err());
        assert!(Currency::new("US").is_err());
        assert!(Currency::new("USDX").is_err());
        assert!(Currency::new("ÜSD").is_err());
        assert_eq!(c("KES").as_str(), "KES");
    }

    #[test]
    fn display_uses_the_currency_exponent() {
        assert_eq!(Money::new(1250, c("USD")).to_string(), "12.50 USD");
        assert_eq!(Money::new(5, c("EUR")).to_string(), "0.05 EUR");
        assert_eq!(Money::new(-5, c("EUR")).to_string(), "-0.05 EUR");
        assert_eq!(Money::new(5000, c("UGX")).to_string(), "5000 UGX");
        assert_eq!(
            Money::new(i64::MIN, c("USD")).to_string(),
            "-92233720368547758.08 USD"
        );
    }

    #[test]
    fn arithmetic_refuses_mixed_currencies_and_overflow() {
        let a = Money::new(100, c("USD"));
        assert_eq!(a.checked_add(a), Ok(Money::new(200, c("USD"))));
        assert!(matches!(
            a.checked_add(Money::new(1, c("EUR"))),
            Err(MoneyError::Mixed(..))
        ));
        assert_eq!(
            Money::new(i64::MAX, c("USD")).checked_add(Money::new(1, c("USD"))),
            Err(MoneyError::Overflow)
        );
        assert_eq!(a.checked_mul(3), Ok(Money::new(300, c("USD"))));
        assert_eq!(a.checked_mul(u64::MAX), Err(MoneyError::Overflow));
    }

    #[test]
    fn serde_round_trips_and_validates_the_currency() {
        let m = Money::new(1250, c("KES"));
        let json = serde_json::to_string(&m).expect("encodes");
        assert_eq!(json, r#"{"minor":1250,"currency":"KES"}"#);
        assert_eq!(serde_json::from_str::<Money>(&json).expect("decodes"), m);
        let bytes = postcard::to_stdvec(&m).expect("encodes");
        assert_eq!(postcard::from_bytes::<Money>(&bytes).expect("decodes"), m);
        assert!(serde_json::from_str::<Money>(r#"{"minor":1,"currency":"usd"}"#).is_err());
    }
}
