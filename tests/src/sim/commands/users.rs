//! `/ip/hotspot/user`: add, set, remove, enable, disable, reset-counters, print.
//!
//! Validation follows the router: a bad value is `invalid value for argument X`, an unknown
//! profile `input does not match any value of profile`, a taken name `failure: already have
//! user with this name for this server`. Nothing changes unless the whole command is valid.

use hotspot_shared::routeros::{Attributes, Request};

use super::values::{boolean, bytes, duration, fmt_bool, fmt_duration};
use super::{Answer, Trap, done_ret, item, print, settable, targets};
use crate::sim::Shared;
use crate::sim::state::{Router, User, format_id, parse_id};

const DUPLICATE: &str = "failure: already have user with this name for this server";

pub fn handle(shared: &Shared, verb: &str, req: &Request) -> Answer {
    match verb {
        "print" | "getall" => {
            let items: Vec<Attributes> = shared.router().users.values().map(render).collect();
            print(shared, req, items)
        }
        "add" => add(shared, req),
        "set" => mutate(shared, req, |r, u| apply(r, u, req)),
        "remove" => {
            let mut r = shared.router();
            let ids = targets(req, |s| lookup(&r, s))?;
            for id in ids {
                r.users.remove(&id);
            }
            r.end_finished_sessions();
            drop(r);
            shared.changed();
            Ok(vec![hotspot_shared::routeros::Reply::done()])
        }
        "enable" | "disable" => {
            let disabled = verb == "disable";
            mutate(shared, req, |_, u| {
                u.disabled = disabled;
                Ok(())
            })
        }
        "reset-counters" => mutate(shared, req, |_, u| {
            u.uptime_ms = 0;
            u.bytes_in = 0;
            u.bytes_out = 0;
            u.packets_in = 0;
            u.packets_out = 0;
            Ok(())
        }),
        _ => Err(Trap::no_such_command()),
    }
}

/// A user by `*id` or by name.
fn lookup(r: &Router, s: &[u8]) -> Option<u64> {
    match parse_id(s) {
        Some(id) => r.users.contains_key(&id).then_some(id),
        None => r.user_by_name(s),
    }
}

fn add(shared: &Shared, req: &Request) -> Answer {
    let mut r = shared.router();
    let mut user = User::new(0, Vec::new());
    apply(&r, &mut user, req)?;
    if user.name.is_empty() {
        return Err(Trap::new(
            Some(hotspot_shared::routeros::TrapCategory::ArgumentValueFailure),
            "missing value(s) of argument(s) name",
        ));
    }
    if r.users.values().any(|u| u.name == user.name) {
        return Err(Trap::failure(DUPLICATE));
    }
    let id = r.alloc_user_id();
    user.id = id;
    r.users.insert(id, user);
    drop(r);
    shared.changed();
    Ok(done_ret(id))
}

/// Applies `change` to copies of every target user; commits only if all succeed.
fn mutate(
    shared: &Shared,
    req: &Request,
    change: impl Fn(&Router, &mut User) -> Result<(), Trap>,
) -> Answer {
    let mut r = shared.router();
    let ids = targets(req, |s| lookup(&r, s))?;
    let mut updated = Vec::with_capacity(ids.len());
    for id in ids {
        let Some(mut u) = r.users.get(&id).cloned() else {
            return Err(Trap::no_such_item());
        };
        change(&r, &mut u)?;
        if r.users
            .values()
            .any(|other| other.id != id && other.name == u.name)
        {
            return Err(Trap::failure(DUPLICATE));
        }
        updated.push(u);
    }
    for u in updated {
        r.users.insert(u.id, u);
    }
    r.end_finished_sessions();
    drop(r);
    shared.changed();
    Ok(vec![hotspot_shared::routeros::Reply::done()])
}

/// Sets every property the request carries on `u`.
fn apply(r: &Router, u: &mut User, req: &Request) -> Result<(), Trap> {
    for (k, v) in settable(req) {
        match k {
            b"name" => u.name = v.to_vec(),
            b"password" => u.password = v.to_vec(),
            b"profile" => {
                if r.profile_by_name(v).is_none() {
                    return Err(Trap::new(
                        Some(hotspot_shared::routeros::TrapCategory::ArgumentValueFailure),
                        "input does not match any value of profile",
                    ));
                }
                u.profile = v.to_vec();
            }
            b"server" => u.server = v.to_vec(),
            b"limit-uptime" => {
                u.limit_uptime = Some(duration("limit-uptime", v)?).filter(|&s| s > 0)
            }
            b"limit-bytes-total" => {
                u.limit_bytes_total = Some(bytes("limit-bytes-total", v)?).filter(|&b| b > 0)
            }
            b"limit-bytes-in" => {
                u.limit_bytes_in = Some(bytes("limit-bytes-in", v)?).filter(|&b| b > 0)
            }
            b"limit-bytes-out" => {
                u.limit_bytes_out = Some(bytes("limit-bytes-out", v)?).filter(|&b| b > 0)
            }
            b"mac-address" => u.mac_address = v.to_vec(),
            b"comment" => u.comment = v.to_vec(),
            b"email" => u.email = v.to_vec(),
            b"disabled" => u.disabled = boolean("disabled", v)?,
            // Accepted and not modelled.
            b"address" | b"routes" => {}
            other => return Err(Trap::unknown_parameter(other)),
        }
    }
    Ok(())
}

/// A user as `print` shows it (unset limits and empty texts are absent, as on a router).
pub fn render(u: &User) -> Attributes {
    let mut a = item([
        (".id", format_id(u.id).into_bytes()),
        ("name", u.name.clone()),
        ("server", u.server.clone()),
        ("password", u.password.clone()),
        ("profile", u.profile.clone()),
    ]);
    let optional = [
        ("mac-address", &u.mac_address),
        ("email", &u.email),
        ("comment", &u.comment),
    ];
    for (k, v) in optional {
        if !v.is_empty() {
            a.set(k, v.clone());
        }
    }
    if let Some(s) = u.limit_uptime {
        a.set("limit-uptime", fmt_duration(s));
    }
    for (k, v) in [
        ("limit-bytes-total", u.limit_bytes_total),
        ("limit-bytes-in", u.limit_bytes_in),
        ("limit-bytes-out", u.limit_bytes_out),
    ] {
        if let Some(v) = v {
            a.set(k, v.to_string());
        }
    }
    a.set("uptime", fmt_duration(u.uptime_ms / 1000));
    a.set("bytes-in", u.bytes_in.to_string());
    a.set("bytes-out", u.bytes_out.to_string());
    a.set("packets-in", u.packets_in.to_string());
    a.set("packets-out", u.packets_out.to_string());
    a.set("dynamic", "false");
    a.set("disabled", fmt_bool(u.disabled));
    a.set("default", "false");
    a
}
