//! `/system/resource`, `/system/identity`, `/system/routerboard` and `/ip/hotspot` (servers).
//!
//! Plausible values for the configured model and version: uptime grows from the last
//! (simulated) reboot, `cpu-load` and `free-memory` move a little with each read.

use hotspot_shared::routeros::{Reply, Request};
use rand::RngExt as _;

use super::values::fmt_duration;
use super::{Answer, Trap, item, print, settable};
use crate::sim::Shared;

const TOTAL_MEMORY: u64 = 1024 * 1024 * 1024;
const TOTAL_HDD: u64 = 1024 * 1024 * 1024;

fn version_text(shared: &Shared) -> String {
    let channel = if shared.cfg.ros_version.major < 7 {
        "long-term"
    } else {
        "stable"
    };
    format!("{} ({channel})", shared.cfg.ros_version)
}

pub fn resource(shared: &Shared, verb: &str, req: &Request) -> Answer {
    if verb != "print" && verb != "getall" {
        return Err(Trap::no_such_command());
    }
    let (uptime, active) = {
        let r = shared.router();
        (r.booted.elapsed().as_secs(), r.active.len() as u64)
    };
    let mut rng = rand::rng();
    let cpu_load: u64 = (rng.random_range(1..8) + active / 4).min(100);
    let free_memory = (TOTAL_MEMORY * 3 / 4)
        .saturating_sub(rng.random_range(0..16 * 1024 * 1024))
        .saturating_sub(active.saturating_mul(64 * 1024));
    let chr = super::is_chr(shared);
    let (arch, cpu) = if chr {
        ("x86_64", "Intel(R) Xeon(R)")
    } else {
        ("arm64", "ARM64")
    };
    let s = |v: String| v.into_bytes();
    let resource = item([
        ("uptime", s(fmt_duration(uptime))),
        ("version", s(version_text(shared))),
        ("build-time", b"2024-09-20 13:00:27".to_vec()),
        ("factory-software", b"7.5".to_vec()),
        ("free-memory", s(free_memory.to_string())),
        ("total-memory", s(TOTAL_MEMORY.to_string())),
        ("cpu", cpu.as_bytes().to_vec()),
        ("cpu-count", b"4".to_vec()),
        ("cpu-frequency", b"1400".to_vec()),
        ("cpu-load", s(cpu_load.to_string())),
        ("free-hdd-space", s((TOTAL_HDD * 9 / 10).to_string())),
        ("total-hdd-space", s(TOTAL_HDD.to_string())),
        ("architecture-name", arch.as_bytes().to_vec()),
        ("board-name", shared.cfg.model.as_bytes().to_vec()),
        ("platform", b"MikroTik".to_vec()),
    ]);
    print(shared, req, [resource])
}

pub fn identity(shared: &Shared, verb: &str, req: &Request) -> Answer {
    match verb {
        "print" | "getall" => {
            let name = shared.router().identity.clone();
            print(shared, req, [item([("name", name)])])
        }
        "set" => {
            let mut name = None;
            for (k, v) in settable(req) {
                match k {
                    b"name" => name = Some(v.to_vec()),
                    other => return Err(Trap::unknown_parameter(other)),
                }
            }
            if let Some(n) = name {
                shared.router().identity = n;
                shared.changed();
            }
            Ok(vec![Reply::done()])
        }
        _ => Err(Trap::no_such_command()),
    }
}

/// A serial number that stays the same for one identity, like a board's.
fn serial(identity: &[u8]) -> String {
    let h = identity.iter().fold(0xcbf2_9ce4_8422_2325u64, |h, &b| {
        (h ^ u64::from(b)).wrapping_mul(0x100_0000_01b3)
    });
    format!("HG{:010X}", h & 0xFF_FFFF_FFFF)
}

pub fn routerboard(shared: &Shared, verb: &str, req: &Request) -> Answer {
    if verb != "print" && verb != "getall" {
        return Err(Trap::no_such_command());
    }
    let version = shared.cfg.ros_version.to_string();
    let identity = shared.router().identity.clone();
    let board = item([
        ("routerboard", b"true".to_vec()),
        ("board-name", shared.cfg.model.as_bytes().to_vec()),
        ("model", shared.cfg.model.as_bytes().to_vec()),
        ("serial-number", serial(&identity).into_bytes()),
        ("firmware-type", b"arm64".to_vec()),
        ("factory-firmware", b"7.5".to_vec()),
        ("current-firmware", version.clone().into_bytes()),
        ("upgrade-firmware", version.into_bytes()),
    ]);
    print(shared, req, [board])
}

/// `/ip/hotspot`: one server, `hotspot1` on `bridge`.
pub fn hotspot(shared: &Shared, verb: &str, req: &Request) -> Answer {
    if verb != "print" && verb != "getall" {
        return Err(Trap::no_such_command());
    }
    let server = item([
        (".id", b"*1".to_vec()),
        ("name", b"hotspot1".to_vec()),
        ("interface", b"bridge".to_vec()),
        ("address-pool", b"hs-pool-1".to_vec()),
        ("profile", b"hsprof1".to_vec()),
        ("idle-timeout", b"5m".to_vec()),
        ("keepalive-timeout", b"none".to_vec()),
        ("login-timeout", b"none".to_vec()),
        ("addresses-per-mac", b"2".to_vec()),
        ("proxy-status", b"running".to_vec()),
        ("invalid", b"false".to_vec()),
        ("HTTPS", b"false".to_vec()),
        ("disabled", b"false".to_vec()),
    ]);
    print(shared, req, [server])
}
