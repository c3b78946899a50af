//! Health samples, router info, and the light reachability probe.
//!
//! `report` sends a `Health` event every interval and an `Info` event on first contact and
//! whenever what the router says about itself changes (firmware upgrade, new identity).
//! The probe is one cheap print (`/system/resource`) between health samples, so that a router
//! going down or coming back shows within the probe interval without a full sample.
//!
//! Both watch the router's uptime: when it goes backwards the router rebooted (or was reset
//! and rebooted, or restored from a backup), and the usage sync, which restores users the
//! router lost from the desired state, runs at once instead of at its next interval; this
//! needs no controller.

use hotspot_shared::domain::{ActiveSession, HealthSample, RouterInfo};
use hotspot_shared::fleet::msg::Event;

use super::reachability::observe;
use crate::core::{Core, unix_now};
use crate::routeros::{self, Router, RouterError};
use crate::routers::LiveRouter;

/// Model, identity and firmware, read from the router now.
pub(crate) async fn fetch_info(pool: &Router) -> Result<RouterInfo, RouterError> {
    let identity = pool.identity().await?;
    let resource = pool.system_resource().await?;
    let board = pool.routerboard().await?;
    Ok(RouterInfo {
        identity,
        model: board.as_ref().map(|b| b.model.clone()),
        board_name: resource.board_name,
        version: resource.version,
        firmware: board.as_ref().and_then(|b| b.current_firmware.clone()),
        serial: board.and_then(|b| b.serial),
        architecture: resource.architecture,
    })
}

/// CPU, memory, uptime and active users, read from the router now.
pub(crate) async fn fetch_health(pool: &Router) -> Result<HealthSample, RouterError> {
    let resource = pool.system_resource().await?;
    let active = pool.active_sessions().await?;
    Ok(HealthSample {
        at: unix_now(),
        cpu_load: u8::try_from(resource.cpu_load.min(100)).unwrap_or(100),
        free_memory: resource.free_memory,
        total_memory: resource.total_memory,
        uptime_secs: resource.uptime.as_secs(),
        active_users: u32::try_from(active.len()).unwrap_or(u32::MAX),
        version: resource.version,
    })
}

/// An active session as the controller sees it.
pub(crate) fn session_of(s: routeros::ActiveSession) -> ActiveSession {
    ActiveSession {
        id: s.id.to_string(),
        user: s.user,
        address: s.address.unwrap_or_default(),
        mac_address: s.mac_address.unwrap_or_default(),
        uptime_secs: s.uptime.as_secs(),
        bytes_in: s.bytes_in,
        bytes_out: s.bytes_out,
    }
}

/// Sends a health sample, and the router info if it is new or changed.
pub(crate) async fn report(core: &Core, live: &LiveRouter) -> Result<(), String> {
    let pool = live.pool();
    let sample = fetch_health(&pool).await;
    observe(core, live, sample.as_ref().map(drop)).await;
    let sample = sample.map_err(|e| e.to_string())?;
    let mut state = live.sync.lock().await;
    check_reboot(live, &mut state, sample.uptime_secs);
    let mut events = vec![Event::Health {
        router: live.id,
        sample,
    }];
    let info = fetch_info(&pool).await;
    match info {
        Ok(info) if state.last_info.as_ref() != Some(&info) => {
            events.push(Event::Info {
                router: live.id,
                info: info.clone(),
            });
            core.send(&events).await?;
            state.last_info = Some(info);
            Ok(())
        }
        Ok(_) => core.send(&events).await,
        Err(e) => {
            core.send(&events).await?;
            Err(format!("router info: {e}"))
        }
    }
}

/// One cheap call, to notice a router going down, coming back, or rebooting.
pub(crate) async fn probe(core: &Core, live: &LiveRouter) {
    let result = live.pool().system_resource().await;
    observe(core, live, result.as_ref().map(drop)).await;
    if let Ok(resource) = result {
        let mut state = live.sync.lock().await;
        check_reboot(live, &mut state, resource.uptime.as_secs());
    }
}

/// Records `uptime`; when it went backwards, the router rebooted: the usage sync (with its
/// repair) and the apply worker are woken. Returns whether it rebooted.
pub(crate) fn check_reboot(live: &LiveRouter, state: &mut super::JobState, uptime: u64) -> bool {
    let rebooted = state.last_uptime.is_some_and(|before| uptime < before);
    state.last_uptime = Some(uptime);
    if rebooted {
        tracing::warn!(router = %live.id, uptime, "router uptime went backwards: it rebooted; checking its users now");
        live.wake_sync.notify_one();
        live.wake_apply.notify_one();
    }
    rebooted
}
