//! The checks across settings, after the TOML was read: each failure names the dotted key
//! and, when the key is written in the file, its line.

use super::{
    Config, ConfigError, MAX_BATCH_LIMIT, MAX_BODY_LIMIT_KIB, MAX_CONFIRM_WAIT_MS, MAX_MEMORY_KIB,
};

/// Most keys the login throttle may be told to track.
const MAX_TRACKED_LIMIT: u32 = 1_000_000;

pub(super) fn validate(config: &Config, src: &str) -> Result<(), ConfigError> {
    let fail = |key: &str, message: String| {
        Err(ConfigError::Invalid {
            path: None,
            key: key.to_owned(),
            line: locate(src, key),
            message,
        })
    };
    // `[jobs]` checks itself while parsed (non-zero intervals, HH:MM, offset).
    let (h, f, v, a) = (&config.http, &config.fleet, &config.vouchers, &config.auth);
    if h.tls_cert.is_some() != h.tls_key.is_some() {
        let key = if h.tls_cert.is_some() {
            "http.tls_key"
        } else {
            "http.tls_cert"
        };
        return fail(key, "tls_cert and tls_key must be set together".into());
    }
    if let Some(addr) = config.metrics.listen
        && !addr.ip().is_loopback()
    {
        return fail(
            "metrics.listen",
            format!(
                "{addr} is not a loopback address: /metrics is served there without sign-in; \
                 scrape remotely through the main listener with metrics.token_file"
            ),
        );
    }
    if h.body_limit_kib.get() > MAX_BODY_LIMIT_KIB {
        return fail(
            "http.body_limit_kib",
            format!(
                "{} is above the limit of {MAX_BODY_LIMIT_KIB}",
                h.body_limit_kib
            ),
        );
    }
    let name_ok = |c: char| c.is_ascii_alphanumeric() || ".-:".contains(c);
    if f.server_name.is_empty() || !f.server_name.chars().all(name_ok) {
        return fail(
            "fleet.server_name",
            format!("{:?} is not a DNS name or IP address", f.server_name),
        );
    }
    if f.offline_after_secs <= f.heartbeat_secs {
        return fail(
            "fleet.offline_after_secs",
            format!(
                "{} must be greater than fleet.heartbeat_secs ({}), or every site flaps offline",
                f.offline_after_secs, f.heartbeat_secs
            ),
        );
    }
    if v.confirm_wait_ms > MAX_CONFIRM_WAIT_MS {
        return fail(
            "vouchers.confirm_wait_ms",
            format!(
                "{} is above the limit of {MAX_CONFIRM_WAIT_MS}",
                v.confirm_wait_ms
            ),
        );
    }
    let (lo, hi) = (
        hotspot_shared::voucher::MIN_LENGTH,
        hotspot_shared::voucher::MAX_LENGTH,
    );
    if !(lo..=hi).contains(&v.default_length) {
        return fail(
            "vouchers.default_length",
            format!("{} is outside {lo} to {hi}", v.default_length),
        );
    }
    if v.max_batch.get() > MAX_BATCH_LIMIT {
        return fail(
            "vouchers.max_batch",
            format!("{} is above the limit of {MAX_BATCH_LIMIT}", v.max_batch),
        );
    }
    if let Some(url) = &v.hotspot_login_url {
        let scheme_ok = url.starts_with("http://") || url.starts_with("https://");
        let chars_ok = url
            .bytes()
            .all(|b| b.is_ascii_graphic() && !b"\"'<>`\\".contains(&b));
        if !scheme_ok || !chars_ok || url.len() > 200 {
            return fail(
                "vouchers.hotspot_login_url",
                format!("{url:?} is not an http:// or https:// address (at most 200 characters)"),
            );
        }
    }
    if u64::from(a.session_idle_mins.get()) > u64::from(a.session_absolute_hours.get()) * 60 {
        return fail(
            "auth.session_idle_mins",
            format!(
                "{} minutes is longer than auth.session_absolute_hours ({} h)",
                a.session_idle_mins, a.session_absolute_hours
            ),
        );
    }
    if a.argon2_memory_kib > MAX_MEMORY_KIB {
        return fail(
            "auth.argon2_memory_kib",
            format!(
                "{} is above the limit of {MAX_MEMORY_KIB}",
                a.argon2_memory_kib
            ),
        );
    }
    let p = a.password_params();
    if let Err(e) = argon2::Params::new(p.memory_kib, p.iterations, p.parallelism, None) {
        let key = match e {
            argon2::Error::MemoryTooLittle | argon2::Error::MemoryTooMuch => {
                "auth.argon2_memory_kib"
            }
            argon2::Error::TimeTooSmall => "auth.argon2_iterations",
            _ => "auth.argon2_parallelism",
        };
        return fail(key, format!("{e} (memory must be at least 8 KiB per lane)"));
    }
    let t = &a.throttle;
    if t.lockout_base_secs > t.lockout_max_secs {
        return fail(
            "auth.throttle.lockout_base_secs",
            format!(
                "{} is longer than auth.throttle.lockout_max_secs ({})",
                t.lockout_base_secs, t.lockout_max_secs
            ),
        );
    }
    if t.forget_after_secs < t.lockout_max_secs {
        return fail(
            "auth.throttle.forget_after_secs",
            format!(
                "{} is shorter than auth.throttle.lockout_max_secs ({}); a lockout would be forgotten while it lasts",
                t.forget_after_secs, t.lockout_max_secs
            ),
        );
    }
    if t.max_tracked.get() > MAX_TRACKED_LIMIT {
        return fail(
            "auth.throttle.max_tracked",
            format!(
                "{} is above the limit of {MAX_TRACKED_LIMIT}",
                t.max_tracked
            ),
        );
    }
    Ok(())
}

/// The line of `key` (dotted: `section.sub.name`) in `src`, if written plainly there.
fn locate(src: &str, key: &str) -> Option<usize> {
    let (table, name) = key.rsplit_once('.').unwrap_or(("", key));
    let mut current = String::new();
    for (i, line) in src.lines().enumerate() {
        let t = line.trim();
        if let Some(header) = t.strip_prefix('[').and_then(|r| r.split(']').next()) {
            current = header.trim().to_owned();
        } else if current == table
            && let Some(rest) = t.strip_prefix(name)
            && rest.trim_start().starts_with('=')
        {
            return Some(i + 1);
        }
    }
    None
}
