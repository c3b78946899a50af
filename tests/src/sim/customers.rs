//! Simulated customers: vouchers get used.
//!
//! A ticker (every [`TICK`] of real time) advances simulated time by `TICK × time_scale`: every
//! active session's uptime and traffic grow, and so do its user's counters. A session ends when
//! the user's `limit-uptime` or byte limits are used up (the router then refuses new logins for
//! that voucher), when the user is disabled or removed, when the customer leaves on their own,
//! or when an administrator removes the active entry (a kick). New logins arrive at
//! `logins_per_minute` (real minutes) and pick an enabled voucher with something left and a
//! free `shared-users` slot of its profile.
//!
//! The ticker always runs, so sessions opened by a test through
//! [`super::SimHandle::login_customer`] age even when no automatic logins are configured.

use std::net::Ipv4Addr;
use std::sync::Arc;
use std::time::Duration;

use rand::RngExt as _;
use tokio::time::{Instant, MissedTickBehavior};

use super::state::{Active, Router};
use super::{CustomerConfig, Shared};

/// Real time between two steps of the simulation.
pub const TICK: Duration = Duration::from_millis(100);
/// Logins owed but not yet made are capped, so a long pause does not cause a stampede.
const MAX_LOGIN_BACKLOG: f64 = 20.0;

/// The customer ticker; ends at shutdown.
pub async fn run(shared: Arc<Shared>) {
    let settings = shared.cfg.customers.unwrap_or(CustomerConfig {
        logins_per_minute: 0.0,
        ..CustomerConfig::default()
    });
    let mut stop = shared.shutdown.subscribe();
    let mut ticker = tokio::time::interval(TICK);
    ticker.set_missed_tick_behavior(MissedTickBehavior::Delay);
    let mut last = Instant::now();
    let mut owed_logins = 0.0f64;
    loop {
        tokio::select! {
            _ = ticker.tick() => {}
            _ = stop.wait_for(|s| *s) => return,
        }
        let now = Instant::now();
        let real = now.duration_since(last).as_secs_f64();
        last = now;
        if shared.is_down() {
            continue;
        }
        let sim_ms = (real * settings.time_scale.max(0.0) * 1000.0) as u64;
        owed_logins = (owed_logins + real * settings.logins_per_minute.max(0.0) / 60.0)
            .min(MAX_LOGIN_BACKLOG);
        let mut r = shared.router();
        let mut changed = advance(&mut r, sim_ms, settings.bytes_per_second);
        while owed_logins >= 1.0 {
            owed_logins -= 1.0;
            changed |= login_someone(&mut r);
        }
        drop(r);
        if changed {
            shared.changed();
        }
    }
}

/// Ages every session by `sim_ms` simulated milliseconds; ends the finished ones. True when
/// anything changed.
pub fn advance(r: &mut Router, sim_ms: u64, bytes_per_second: u64) -> bool {
    if r.active.is_empty() || sim_ms == 0 {
        return false;
    }
    let traffic = bytes_per_second.saturating_mul(sim_ms) / 1000;
    // Customers download far more than they upload: 1 part in, 4 parts out (router's view).
    let (inbound, outbound) = (traffic / 5, traffic - traffic / 5);
    let Router { active, users, .. } = r;
    for a in active.values_mut() {
        a.uptime_ms = a.uptime_ms.saturating_add(sim_ms);
        a.bytes_in = a.bytes_in.saturating_add(inbound);
        a.bytes_out = a.bytes_out.saturating_add(outbound);
        a.packets_in = a.packets_in.saturating_add(inbound / 500 + 1);
        a.packets_out = a.packets_out.saturating_add(outbound / 1200 + 1);
        if let Some(u) = users.get_mut(&a.user_id) {
            u.uptime_ms = u.uptime_ms.saturating_add(sim_ms);
            // A router stops counting at the limit: the session ends right there.
            if let Some(limit) = u.limit_uptime {
                u.uptime_ms = u.uptime_ms.min(limit.saturating_mul(1000));
            }
            u.bytes_in = u.bytes_in.saturating_add(inbound);
            u.bytes_out = u.bytes_out.saturating_add(outbound);
            u.packets_in = u.packets_in.saturating_add(inbound / 500 + 1);
            u.packets_out = u.packets_out.saturating_add(outbound / 1200 + 1);
        }
    }
    r.end_finished_sessions();
    true
}

/// Logs in a random eligible voucher; false when there is none.
fn login_someone(r: &mut Router) -> bool {
    let view: &Router = r;
    let eligible: Vec<Vec<u8>> = view
        .users
        .values()
        .filter(|u| refusal(view, u.id).is_none())
        .map(|u| u.name.clone())
        .collect();
    if eligible.is_empty() {
        return false;
    }
    let pick = rand::rng().random_range(0..eligible.len());
    login(r, &eligible[pick]).is_ok()
}

/// Why user `id` may not log in now, as the hotspot login page would say.
fn refusal(r: &Router, id: u64) -> Option<String> {
    let u = r.users.get(&id)?;
    if u.disabled {
        return Some("user is disabled".into());
    }
    if u.exhausted() {
        return Some("user has reached a limit (uptime or traffic)".into());
    }
    let shared_users = r
        .profile_by_name(&u.profile)
        .map_or(Some(1), |p| p.shared_users);
    if shared_users.is_some_and(|n| r.sessions_of(id) >= n as usize) {
        return Some("no more sessions are allowed for user".into());
    }
    None
}

/// Logs a customer in with voucher `name`; the new active entry's id.
pub fn login(r: &mut Router, name: &[u8]) -> Result<u64, String> {
    let user_id = r
        .user_by_name(name)
        .ok_or_else(|| "invalid username or password".to_string())?;
    if let Some(why) = refusal(r, user_id) {
        return Err(why);
    }
    let used: Vec<Ipv4Addr> = r.active.values().map(|a| a.address).collect();
    let address = (2..=254u8)
        .map(|x| Ipv4Addr::new(10, 5, 50, x))
        .find(|a| !used.contains(a))
        .ok_or_else(|| "no free address in the hotspot pool".to_string())?;
    let mut rng = rand::rng();
    let mac: [u8; 5] = rng.random();
    let mac_address = format!(
        "02:{:02X}:{:02X}:{:02X}:{:02X}:{:02X}",
        mac[0], mac[1], mac[2], mac[3], mac[4]
    );
    let leave_after_ms = rng.random_range(30 * 60_000..4 * 3_600_000);
    let id = r.alloc_active_id();
    r.active.insert(
        id,
        Active {
            id,
            user_id,
            user: name.to_vec(),
            address,
            mac_address,
            login_by: "http-chap",
            uptime_ms: 0,
            bytes_in: 0,
            bytes_out: 0,
            packets_in: 0,
            packets_out: 0,
            leave_after_ms,
        },
    );
    Ok(id)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sim::state::User;

    fn router_with(limit_uptime: Option<u64>) -> Router {
        let mut r = Router::new("t");
        let id = r.alloc_user_id();
        let mut u = User::new(id, b"V1".to_vec());
        u.limit_uptime = limit_uptime;
        r.users.insert(id, u);
        r
    }

    #[test]
    fn uptime_grows_and_the_limit_ends_the_session() {
        let mut r = router_with(Some(60));
        login(&mut r, b"V1").expect("logs in");
        assert!(
            login(&mut r, b"V1").is_err(),
            "shared-users=1 allows one session"
        );
        advance(&mut r, 30_000, 1000);
        assert_eq!(r.active.len(), 1);
        assert_eq!(r.users[&1].uptime_ms, 30_000);
        assert_eq!(r.users[&1].bytes_in + r.users[&1].bytes_out, 30_000);
        advance(&mut r, 45_000, 1000);
        assert!(r.active.is_empty(), "limit-uptime reached ends the session");
        assert_eq!(r.users[&1].uptime_ms, 60_000, "counted up to the limit");
        assert!(
            login(&mut r, b"V1").is_err(),
            "an exhausted voucher is refused"
        );
    }

    #[test]
    fn random_logins_skip_disabled_vouchers() {
        let mut r = router_with(None);
        r.users.get_mut(&1).expect("user").disabled = true;
        assert!(!login_someone(&mut r));
        r.users.get_mut(&1).expect("user").disabled = false;
        assert!(login_someone(&mut r));
        assert_eq!(
            r.active.values().next().map(|a| a.address),
            Some(Ipv4Addr::new(10, 5, 50, 2))
        );
    }
}
