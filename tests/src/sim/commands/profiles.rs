//! `/ip/hotspot/user/profile`: add, set, remove, print. `default` always exists.
//!
//! Users refer to profiles by name here; a rename carries the users along, as the router's
//! internal references do.

use hotspot_shared::routeros::{Attributes, Reply, Request, TrapCategory};

use super::values::{boolean, duration, duration_or_none, fmt_bool, fmt_duration};
use super::{Answer, Trap, done_ret, item, print, settable, targets};
use crate::sim::Shared;
use crate::sim::state::{Profile, Router, format_id, parse_id};

pub fn handle(shared: &Shared, verb: &str, req: &Request) -> Answer {
    match verb {
        "print" | "getall" => {
            let items: Vec<Attributes> = shared.router().profiles.values().map(render).collect();
            print(shared, req, items)
        }
        "add" => {
            let mut r = shared.router();
            let mut p = Profile::new(0, Vec::new());
            apply(&mut p, req)?;
            if p.name.is_empty() {
                return Err(Trap::new(
                    Some(TrapCategory::ArgumentValueFailure),
                    "missing value(s) of argument(s) name",
                ));
            }
            if r.profile_by_name(&p.name).is_some() {
                return Err(Trap::failure(
                    "failure: profile with the same name already exists",
                ));
            }
            let id = r.alloc_profile_id();
            p.id = id;
            r.profiles.insert(id, p);
            drop(r);
            shared.changed();
            Ok(done_ret(id))
        }
        "set" => {
            let mut r = shared.router();
            let ids = targets(req, |s| lookup(&r, s))?;
            let mut updated = Vec::new();
            for id in ids {
                let Some(old) = r.profiles.get(&id).cloned() else {
                    return Err(Trap::no_such_item());
                };
                let mut p = old.clone();
                apply(&mut p, req)?;
                if p.name != old.name {
                    if old.is_default() {
                        return Err(Trap::failure("failure: can not rename default profile"));
                    }
                    if r.profile_by_name(&p.name).is_some() {
                        return Err(Trap::failure(
                            "failure: profile with the same name already exists",
                        ));
                    }
                }
                updated.push((old.name, p));
            }
            for (old_name, p) in updated {
                for u in r.users.values_mut().filter(|u| u.profile == old_name) {
                    u.profile = p.name.clone();
                }
                r.profiles.insert(p.id, p);
            }
            drop(r);
            shared.changed();
            Ok(vec![Reply::done()])
        }
        "remove" => {
            let mut r = shared.router();
            let ids = targets(req, |s| lookup(&r, s))?;
            if ids
                .iter()
                .any(|id| r.profiles.get(id).is_some_and(Profile::is_default))
            {
                return Err(Trap::failure("failure: can not remove default profile"));
            }
            for id in ids {
                r.profiles.remove(&id);
            }
            drop(r);
            shared.changed();
            Ok(vec![Reply::done()])
        }
        _ => Err(Trap::no_such_command()),
    }
}

fn lookup(r: &Router, s: &[u8]) -> Option<u64> {
    match parse_id(s) {
        Some(id) => r.profiles.contains_key(&id).then_some(id),
        None => r.profile_by_name(s).map(|p| p.id),
    }
}

fn apply(p: &mut Profile, req: &Request) -> Result<(), Trap> {
    for (k, v) in settable(req) {
        match k {
            b"name" => p.name = v.to_vec(),
            b"shared-users" => {
                p.shared_users = match v {
                    b"unlimited" => None,
                    _ => Some(
                        std::str::from_utf8(v)
                            .ok()
                            .and_then(|s| s.parse().ok())
                            .filter(|&n: &u32| n > 0)
                            .ok_or_else(|| Trap::invalid_value("shared-users"))?,
                    ),
                }
            }
            b"rate-limit" => p.rate_limit = v.to_vec(),
            b"session-timeout" => {
                p.session_timeout = Some(duration("session-timeout", v)?).filter(|&s| s > 0)
            }
            b"idle-timeout" => p.idle_timeout = duration_or_none("idle-timeout", v)?,
            b"keepalive-timeout" => p.keepalive_timeout = duration_or_none("keepalive-timeout", v)?,
            b"status-autorefresh" => p.status_autorefresh = duration("status-autorefresh", v)?,
            b"add-mac-cookie" => p.add_mac_cookie = boolean("add-mac-cookie", v)?,
            b"mac-cookie-timeout" => p.mac_cookie_timeout = duration("mac-cookie-timeout", v)?,
            b"address-pool" => p.address_pool = v.to_vec(),
            b"on-login" => p.on_login = v.to_vec(),
            b"on-logout" => p.on_logout = v.to_vec(),
            // Accepted and not modelled.
            b"transparent-proxy"
            | b"open-status-page"
            | b"advertise"
            | b"address-list"
            | b"parent-queue"
            | b"queue-type"
            | b"incoming-filter"
            | b"outgoing-filter"
            | b"incoming-packet-mark"
            | b"outgoing-packet-mark"
            | b"insert-queue-before" => {}
            other => return Err(Trap::unknown_parameter(other)),
        }
    }
    Ok(())
}

fn none_or(v: Option<u64>) -> Vec<u8> {
    v.map(fmt_duration)
        .unwrap_or_else(|| "none".into())
        .into_bytes()
}

pub fn render(p: &Profile) -> Attributes {
    let mut a = item([
        (".id", format_id(p.id).into_bytes()),
        ("name", p.name.clone()),
        ("idle-timeout", none_or(p.idle_timeout)),
        ("keepalive-timeout", none_or(p.keepalive_timeout)),
        (
            "status-autorefresh",
            fmt_duration(p.status_autorefresh).into_bytes(),
        ),
        (
            "shared-users",
            p.shared_users
                .map(|n| n.to_string())
                .unwrap_or_else(|| "unlimited".into())
                .into_bytes(),
        ),
        ("add-mac-cookie", fmt_bool(p.add_mac_cookie).into()),
        (
            "mac-cookie-timeout",
            fmt_duration(p.mac_cookie_timeout).into_bytes(),
        ),
        ("address-pool", p.address_pool.clone()),
        ("transparent-proxy", b"false".to_vec()),
        ("default", fmt_bool(p.is_default()).into()),
    ]);
    if !p.rate_limit.is_empty() {
        a.set("rate-limit", p.rate_limit.clone());
    }
    if let Some(s) = p.session_timeout {
        a.set("session-timeout", fmt_duration(s));
    }
    for (k, v) in [("on-login", &p.on_login), ("on-logout", &p.on_logout)] {
        if !v.is_empty() {
            a.set(k, v.clone());
        }
    }
    a
}
