//! The fault suite's use of the agent's local staff API ([`LocalStaff`]).

use std::time::{Duration, Instant};

use anyhow::bail;

pub use crate::local_staff::LocalStaff;

/// `POST /api/vouchers` that must answer 200: the codes sold.
pub async fn sell_ok(
    staff: &LocalStaff,
    router: u64,
    package: u64,
    count: u32,
) -> anyhow::Result<Vec<String>> {
    let (status, answer) = staff.sell(router, package, count as usize).await?;
    if status != 200 {
        bail!("local sale answered {status}: {answer}");
    }
    super::fleet::codes_of(&answer)
}

/// Waits until the agent's status says the link is `online` (or not).
pub async fn wait_link(staff: &LocalStaff, online: bool, within: Duration) -> anyhow::Result<()> {
    let deadline = Instant::now() + within;
    loop {
        let status = staff.status().await?;
        if status["link"]["online"] == online {
            return Ok(());
        }
        if Instant::now() > deadline {
            bail!("the agent's link is not online={online} within {within:?}: {status}");
        }
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
}
