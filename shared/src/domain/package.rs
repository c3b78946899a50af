//! Priced packages and the router profile each maps to.

use serde::{Deserialize, Serialize};

use super::{Money, PackageId};
use crate::units::RosDuration;

/// Longest package or profile name.
pub const MAX_NAME: usize = 64;
/// Most customers on one voucher at once.
pub const MAX_SHARED_USERS: u32 = 1000;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PackageError {
    #[error("{field} must be 1 to {MAX_NAME} printable characters")]
    Name { field: &'static str },
    #[error("price must not be negative")]
    NegativePrice,
    #[error("rate limit {0:?} is not in RouterOS form (e.g. 2M/5M)")]
    RateLimit(String),
    #[error("shared users must be 1 to {MAX_SHARED_USERS}")]
    SharedUsers,
    #[error("a package needs a time limit, a data limit or both")]
    Unlimited,
}

/// A hotspot user profile on the router (`/ip/hotspot/user/profile`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ProfileSpec {
    pub name: String,
    /// `rx/tx` as RouterOS writes it, e.g. `2M/5M`.
    pub rate_limit: Option<String>,
    pub shared_users: Option<u32>,
}

/// What a customer buys.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Package {
    pub id: PackageId,
    pub name: String,
    pub price: Money,
    /// RouterOS `limit-uptime`.
    pub time_limit: Option<RosDuration>,
    /// RouterOS `limit-bytes-total`.
    pub data_limit: Option<u64>,
    /// Wall-clock time after the first login at which the voucher expires.
    pub validity: Option<RosDuration>,
    pub rate_limit: Option<String>,
    pub shared_users: u32,
    /// The hotspot user profile on the router.
    pub profile: String,
}

fn valid_name(s: &str) -> bool {
    !s.trim().is_empty() && s.chars().count() <= MAX_NAME && !s.chars().any(char::is_control)
}

/// RouterOS rate limits: `rx/tx` pairs of rates like `512k`, `2M`, optionally followed by the
/// burst fields (`2M/5M 4M/10M 1M/2M 10/10 8`). Checked for shape, not meaning.
pub fn valid_rate_limit(s: &str) -> bool {
    let rate = |r: &str| {
        let digits = r.trim_end_matches(['k', 'K', 'M', 'G']);
        !digits.is_empty()
            && digits.len() + 1 >= r.len()
            && digits.bytes().all(|b| b.is_ascii_digit())
    };
    let mut parts = s.split(' ');
    let Some(first) = parts.next() else {
        return false;
    };
    let pair = |p: &str| p.split_once('/').is_some_and(|(a, b)| rate(a) && rate(b));
    s.len() <= 64
        && pair(first)
        && parts.all(|p| pair(p) || p.bytes().all(|b| b.is_ascii_digit()) && !p.is_empty())
}

impl Package {
    /// Checks every field; the controller calls this before storing a package.
    pub fn validate(&self) -> Result<(), PackageError> {
        if !valid_name(&self.name) {
            return Err(PackageError::Name { field: "name" });
        }
        if !valid_name(&self.profile) {
            return Err(PackageError::Name { field: "profile" });
        }
        if self.price.minor < 0 {
            return Err(PackageError::NegativePrice);
        }
        if let Some(r) = &self.rate_limit
            && !valid_rate_limit(r)
        {
            return Err(PackageError::RateLimit(r.clone()));
        }
        if self.shared_users == 0 || self.shared_users > MAX_SHARED_USERS {
            return Err(PackageError::SharedUsers);
        }
        if self.time_limit.is_none() && self.data_limit.is_none() {
            return Err(PackageError::Unlimited);
        }
        Ok(())
    }

    pub fn profile_spec(&self) -> ProfileSpec {
        ProfileSpec {
            name: self.profile.clone(),
            rate_limit: self.rate_limit.clone(),
            shared_users: Some(self.shared_users),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::Currency;

    fn pkg() -> Package {
        Package {
            id: PackageId(1),
            name: "1 hour".into(),
            price: Money::new(100, Currency::new("USD").expect("valid")),
            time_limit: Some(RosDuration::from_secs(3600)),
            data_limit: None,
            validity: Some(RosDuration::from_secs(86400)),
            rate_limit: Some("2M/5M".into()),
            shared_users: 1,
            profile: "hf-1h".into(),
        }
    }

    #[test]
    fn a_good_package_validates() {
        assert_eq!(pkg().validate(), Ok(()));
    }

    #[test]
    fn bad_fields_are_named() {
        let mut p = pkg();
        p.name = " ".into();
        assert_eq!(p.validate(), Err(PackageError::Name { field: "name" }));
        let mut p = pkg();
        p.price.minor = -1;
        assert_eq!(p.validate(), Err(PackageError::NegativePrice));
        let mut p = pkg();
        p.shared_users = 0;
        assert_eq!(p.validate(), Err(PackageError::SharedUsers));
        let mut p = pkg();
        p.time_limit = None;
        assert_eq!(p.validate(), Err(PackageError::Unlimited));
    }

    #[test]
    fn rate_limits_in_routeros_form() {
        for ok in [
            "2M/5M",
            "512k/1M",
            "1000/2000",
            "2M/5M 4M/10M 1M/2M 10/10 8",
        ] {
            assert!(valid_rate_limit(ok), "{ok}");
        }
        for bad in [
            "",
            "2M",
            "2M/",
            "/5M",
            "2X/5M",
            "2M/5M;drop",
            "2MM/5M",
            "fast",
        ] {
            assert!(!valid_rate_limit(bad), "{bad}");
        }
    }
}
