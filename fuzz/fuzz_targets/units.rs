//! Durations and byte counts, as routers send them (`RosDuration::parse`, `ByteCount::parse`)
//! and as people type them in the dashboard, the API and config files (`parse_human`).
//!
//! Asserts: whatever a wire parser accepts, the human parser accepts with the same value;
//! `Display` writes a form both parsers read back to the same value; `ByteCount::human` writes a
//! form `parse_human` reads back to within half a tenth of the unit shown (a tenth at the very
//! top of the range). The last checks also run on the first 8 input bytes as a number, so
//! values next to `u64::MAX` are reached.
#![no_main]

use hotspot_shared::units::{ByteCount, RosDuration};
use libfuzzer_sys::fuzz_target;

fn check_duration(d: RosDuration) {
    let shown = d.to_string();
    assert_eq!(RosDuration::parse(&shown), Ok(d), "{shown}");
    assert_eq!(RosDuration::parse_human(&shown), Ok(d), "{shown}");
}

fn check_bytes(b: ByteCount) {
    let shown = b.to_string();
    assert_eq!(ByteCount::parse(&shown), Ok(b), "{shown}");
    assert_eq!(ByteCount::parse_human(&shown), Ok(b), "{shown}");
    let human = b.human();
    let read = ByteCount::parse_human(&human)
        .unwrap_or_else(|e| panic!("{} shown as {human:?} does not read back: {e}", b.get()));
    // One decimal of the unit shown: off by at most half a tenth of it (plus the rounding down
    // to whole bytes); a tenth at the very top, where it rounds down instead of passing
    // u64::MAX.
    let unit: u64 = match human.rsplit(' ').next() {
        Some("TiB") => 1 << 40,
        Some("GiB") => 1 << 30,
        Some("MiB") => 1 << 20,
        Some("KiB") => 1 << 10,
        _ => 1,
    };
    let bound = if human == "16777215.9 TiB" {
        2 * u128::from(unit)
    } else {
        u128::from(unit) + 20
    };
    assert!(
        u128::from(read.get().abs_diff(b.get())) * 20 <= bound,
        "{} shown as {human:?} reads back as {}",
        b.get(),
        read.get()
    );
}

fuzz_target!(|data: &[u8]| {
    if let Some(n) = data.first_chunk::<8>() {
        let n = u64::from_le_bytes(*n);
        check_duration(RosDuration::from_secs(n));
        check_bytes(ByteCount::new(n));
    }
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let human = RosDuration::parse_human(text);
    if let Ok(d) = RosDuration::parse(text) {
        assert_eq!(
            human,
            Ok(d),
            "wire form {text:?} must read the same as human"
        );
    }
    if let Ok(d) = human {
        check_duration(d);
    }
    let human = ByteCount::parse_human(text);
    if let Ok(b) = ByteCount::parse(text) {
        assert_eq!(
            human,
            Ok(b),
            "wire form {text:?} must read the same as human"
        );
    }
    if let Ok(b) = human {
        check_bytes(b);
    }
});
