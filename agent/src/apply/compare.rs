//! Is the user on the router the voucher we wanted? Pure logic, no IO.
//!
//! Creating a voucher is made idempotent by reading back a user that "already exists" and
//! comparing it with what was wanted: equal is success (we made it before a crash, or the
//! controller sent it twice), different is a conflict to report, never to overwrite.
//! RouterOS omits unset limits or prints them as zero, so `None` and `0` are the same here.

use hotspot_shared::domain::VoucherUser;

use crate::routeros::{HotspotUser, HotspotUserEntry};

/// The hotspot user a voucher becomes.
pub fn hotspot_user(v: &VoucherUser) -> HotspotUser {
    HotspotUser {
        name: v.code.clone(),
        password: v.password.clone(),
        profile: v.profile.clone(),
        limit_uptime: v.limit_uptime.filter(|d| d.as_secs() > 0),
        limit_bytes_total: v.limit_bytes_total.filter(|b| *b > 0),
        comment: (!v.comment.is_empty()).then(|| v.comment.as_bytes().to_vec()),
        server: None,
        disabled: false,
    }
}

/// The properties in which `found` differs from `wanted` (empty: the same user).
///
/// A password the router did not print (an API user without the `sensitive` policy) cannot be
/// compared and is not counted as a difference; the name, profile, limits and the comment that
/// ties the user to the ledger still are.
pub fn differences(wanted: &VoucherUser, found: &HotspotUserEntry) -> Vec<&'static str> {
    let mut diff = Vec::new();
    if found.name != wanted.code {
        diff.push("name");
    }
    if found
        .password
        .as_ref()
        .is_some_and(|p| *p != wanted.password)
    {
        diff.push("password");
    }
    if found.profile.as_deref().unwrap_or("default") != wanted.profile {
        diff.push("profile");
    }
    let uptime = |d: Option<hotspot_shared::units::RosDuration>| d.map_or(0, |d| d.as_secs());
    if uptime(found.limit_uptime) != uptime(wanted.limit_uptime) {
        diff.push("limit-uptime");
    }
    if found.limit_bytes_total.unwrap_or(0) != wanted.limit_bytes_total.unwrap_or(0) {
        diff.push("limit-bytes-total");
    }
    if found.comment.as_deref().unwrap_or_default() != wanted.comment.as_bytes() {
        diff.push("comment");
    }
    diff
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::routeros::RouterId as ItemId;
    use hotspot_shared::units::RosDuration;

    fn wanted() -> VoucherUser {
        VoucherUser {
            code: "V7K2".into(),
            password: "pw7".into(),
            profile: "1h-2M".into(),
            limit_uptime: Some(RosDuration::from_secs(3600)),
            limit_bytes_total: None,
            validity: None,
            comment: "hotspot-fleet package-3 central".into(),
        }
    }

    fn found_as_created(v: &VoucherUser) -> HotspotUserEntry {
        let u = hotspot_user(v);
        HotspotUserEntry {
            id: ItemId::new("*1A").expect("id"),
            name: u.name,
            password: Some(u.password),
            profile: Some(u.profile),
            server: Some("all".into()),
            uptime: RosDuration::from_secs(120),
            bytes_in: 10,
            bytes_out: 20,
            limit_uptime: u.limit_uptime,
            limit_bytes_total: Some(0),
            comment: u.comment,
            disabled: false,
        }
    }

    #[test]
    fn the_user_we_made_is_equal_even_after_use() {
        let w = wanted();
        assert!(differences(&w, &found_as_created(&w)).is_empty());
    }

    #[test]
    fn each_difference_is_named() {
        let w = wanted();
        let mut f = found_as_created(&w);
        f.password = Some("other".into());
        f.profile = Some("default".into());
        f.limit_bytes_total = Some(1 << 20);
        f.comment = None;
        assert_eq!(
            differences(&w, &f),
            ["password", "profile", "limit-bytes-total", "comment"]
        );
        let mut f = found_as_created(&w);
        f.limit_uptime = None;
        assert_eq!(differences(&w, &f), ["limit-uptime"]);
    }

    #[test]
    fn unset_and_zero_limits_are_the_same_and_a_hidden_password_is_not_a_conflict() {
        let mut w = wanted();
        w.limit_uptime = Some(RosDuration::ZERO);
        let mut f = found_as_created(&w);
        f.limit_uptime = None;
        f.password = None;
        assert!(differences(&w, &f).is_empty());
        assert_eq!(hotspot_user(&w).limit_uptime, None);
    }

    #[test]
    fn a_missing_profile_reads_as_default() {
        let mut w = wanted();
        w.profile = "default".into();
        let mut f = found_as_created(&w);
        f.profile = None;
        assert!(differences(&w, &f).is_empty());
    }
}
