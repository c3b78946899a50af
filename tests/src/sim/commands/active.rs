//! `/ip/hotspot/active`: who is logged in now. `remove` kicks a customer off.

use hotspot_shared::routeros::{Attributes, Reply, Request};

use super::values::fmt_duration;
use super::{Answer, Trap, item, print, targets};
use crate::sim::Shared;
use crate::sim::state::{Active, Router, format_id, parse_id};

pub fn handle(shared: &Shared, verb: &str, req: &Request) -> Answer {
    match verb {
        "print" | "getall" => {
            let r = shared.router();
            let items: Vec<Attributes> = r.active.values().map(|a| render(&r, a)).collect();
            drop(r);
            print(shared, req, items)
        }
        "remove" => {
            let mut r = shared.router();
            let ids = targets(req, |s| lookup(&r, s))?;
            for id in ids {
                r.active.remove(&id);
            }
            drop(r);
            shared.changed();
            Ok(vec![Reply::done()])
        }
        _ => Err(Trap::no_such_command()),
    }
}

fn lookup(r: &Router, s: &[u8]) -> Option<u64> {
    parse_id(s).filter(|id| r.active.contains_key(id))
}

pub fn render(r: &Router, a: &Active) -> Attributes {
    let mut out = item([
        (".id", format_id(a.id).into_bytes()),
        ("server", b"hotspot1".to_vec()),
        ("user", a.user.clone()),
        ("domain", Vec::new()),
        ("address", a.address.to_string().into_bytes()),
        ("mac-address", a.mac_address.clone().into_bytes()),
        ("login-by", a.login_by.as_bytes().to_vec()),
        ("uptime", fmt_duration(a.uptime_ms / 1000).into_bytes()),
        ("idle-time", b"0s".to_vec()),
        ("keepalive-timeout", b"2m".to_vec()),
        ("bytes-in", a.bytes_in.to_string().into_bytes()),
        ("bytes-out", a.bytes_out.to_string().into_bytes()),
        ("packets-in", a.packets_in.to_string().into_bytes()),
        ("packets-out", a.packets_out.to_string().into_bytes()),
        ("radius", b"false".to_vec()),
    ]);
    if let Some(limit) = r
        .users
        .get(&a.user_id)
        .and_then(|u| Some((u.limit_uptime?, u.uptime_ms)))
    {
        let left = limit.0.saturating_sub(limit.1 / 1000);
        out.set("session-time-left", fmt_duration(left));
    }
    out
}
