//! Values in the words people read on a page or a voucher card.

use hotspot_shared::domain::Money;
use hotspot_shared::units::ByteCount;

/// `12.50 USD`, `5000 UGX` (the currency's own number of decimals).
pub fn money(m: &Money) -> String {
    m.to_string()
}

/// `1 h 30 min`, `2 d`, `45 s`; `0 s` for zero. At most the two largest units, so long
/// spans stay short (`1 w 2 d`, not `1 w 2 d 3 h 4 min`).
pub fn duration(secs: u64) -> String {
    const UNITS: [(u64, &str); 5] = [
        (7 * 86_400, "w"),
        (86_400, "d"),
        (3_600, "h"),
        (60, "min"),
        (1, "s"),
    ];
    if secs == 0 {
        return "0 s".to_owned();
    }
    let mut rest = secs;
    let mut parts = Vec::with_capacity(2);
    for (size, name) in UNITS {
        if rest >= size {
            parts.push(format!("{} {name}", rest / size));
            rest %= size;
            if parts.len() == 2 {
                break;
            }
        } else if !parts.is_empty() {
            // A gap ends it: `1 d 30 s` would read as a typo; `1 d` is honest enough.
            break;
        }
    }
    parts.join(" ")
}

/// `1 GB` or `500 MB` when the count is a round decimal unit (how packages are sold),
/// else the binary form (`1.5 GiB`, `512 KiB`).
pub fn bytes(n: u64) -> String {
    const DECIMAL: [(u64, &str); 4] = [
        (1_000_000_000_000, "TB"),
        (1_000_000_000, "GB"),
        (1_000_000, "MB"),
        (1_000, "kB"),
    ];
    for (size, name) in DECIMAL {
        if n >= size && n.is_multiple_of(size) {
            return format!("{} {name}", n / size);
        }
    }
    ByteCount::new(n).human()
}

#[cfg(test)]
mod tests {
    use super::*;
    use hotspot_shared::domain::Currency;

    #[test]
    fn durations_read_like_words() {
        assert_eq!(duration(0), "0 s");
        assert_eq!(duration(45), "45 s");
        assert_eq!(duration(5400), "1 h 30 min");
        assert_eq!(duration(3600), "1 h");
        assert_eq!(duration(2 * 86_400), "2 d");
        assert_eq!(duration(86_400 + 30), "1 d");
        assert_eq!(duration(9 * 86_400 + 3 * 3600), "1 w 2 d");
    }

    #[test]
    fn bytes_prefer_round_decimal_units() {
        assert_eq!(bytes(1_000_000_000), "1 GB");
        assert_eq!(bytes(500_000_000), "500 MB");
        assert_eq!(bytes(1 << 30), "1 GiB");
        assert_eq!(bytes(512), "512 B");
    }

    #[test]
    fn money_uses_minor_units() {
        let usd = Currency::new("USD").unwrap();
        assert_eq!(money(&Money::new(1250, usd)), "12.50 USD");
        let ugx = Currency::new("UGX").unwrap();
        assert_eq!(money(&Money::new(5000, ugx)), "5000 UGX");
    }
}
