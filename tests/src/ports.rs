//! Loopback ports for the processes and servers tests start, reserved for the whole test process.
//!
//! Asking the kernel for port 0 and handing the number to a child is a race: between the probe
//! and the child's bind (or a child's restart after `kill -9`), any socket of any parallel test
//! may be given the same ephemeral port. So the ports here come from outside the kernel's
//! ephemeral range (which `bind(0)` and `connect` never leave), and each one is claimed with an
//! advisory lock on a file named after it, held until the test process ends (the kernel drops
//! the lock when the process dies, however it dies), so parallel test processes never share one.

use std::fs::{File, OpenOptions, TryLockError};
use std::net::{Ipv4Addr, SocketAddr, TcpListener, UdpSocket};
use std::path::PathBuf;
use std::sync::Mutex;

/// The lock files this process holds: dropping one would free its port for others.
static HELD: Mutex<Vec<File>> = Mutex::new(Vec::new());

/// The lowest port handed out: below it live services people run on fixed ports.
const LOWEST: u16 = 10_000;

/// A TCP address on 127.0.0.1 that nobody else in this test run will be given.
pub fn free_tcp() -> SocketAddr {
    reserve()
}

/// A UDP address on 127.0.0.1 that nobody else in this test run will be given.
pub fn free_udp() -> SocketAddr {
    reserve()
}

/// A port free for TCP and UDP on 127.0.0.1, outside the ephemeral range, locked for this
/// process.
pub fn reserve() -> SocketAddr {
    let pool = pool(&ephemeral_range());
    let dir = lock_dir();
    std::fs::create_dir_all(&dir).expect("port lock directory");
    let start = rand::random_range(0..pool.len());
    for &port in pool[start..].iter().chain(&pool[..start]) {
        let Some(lock) = claim(&dir, port) else {
            continue;
        };
        let addr = SocketAddr::from((Ipv4Addr::LOCALHOST, port));
        if TcpListener::bind(addr).is_ok() && UdpSocket::bind(addr).is_ok() {
            HELD.lock().unwrap_or_else(|e| e.into_inner()).push(lock);
            return addr;
        }
    }
    panic!("no free loopback port outside the ephemeral range");
}

/// The lock on `port`'s file, or `None` when another process (or this one) holds it.
fn claim(dir: &std::path::Path, port: u16) -> Option<File> {
    let file = OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(dir.join(format!("{port}.lock")))
        .expect("port lock file");
    match file.try_lock() {
        Ok(()) => Some(file),
        Err(TryLockError::WouldBlock) => None,
        Err(TryLockError::Error(e)) => panic!("locking a port file: {e}"),
    }
}

fn lock_dir() -> PathBuf {
    std::env::temp_dir().join("hotspot-fleet-test-ports")
}

/// The kernel's ephemeral range (Linux's default when it cannot be read).
fn ephemeral_range() -> (u16, u16) {
    std::fs::read_to_string("/proc/sys/net/ipv4/ip_local_port_range")
        .ok()
        .and_then(|text| {
            let mut parts = text.split_whitespace().map(str::parse::<u16>);
            Some((parts.next()?.ok()?, parts.next()?.ok()?))
        })
        .unwrap_or((32_768, 60_999))
}

/// Every port from [`LOWEST`] up that the ephemeral range leaves out.
fn pool(&(low, high): &(u16, u16)) -> Vec<u16> {
    let pool: Vec<u16> = (LOWEST..=u16::MAX)
        .filter(|port| !(low..=high).contains(port))
        .collect();
    assert!(
        !pool.is_empty(),
        "the ephemeral range {low}-{high} leaves no ports"
    );
    pool
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_pool_leaves_out_the_ephemeral_range() {
        let pool = pool(&(32_768, 60_999));
        assert_eq!(pool.first(), Some(&LOWEST));
        assert!(pool.contains(&32_767) && pool.contains(&61_000));
        assert!(!pool.contains(&32_768) && !pool.contains(&60_999));
    }

    #[test]
    fn a_reserved_port_is_never_handed_out_again_and_is_locked_against_others() {
        let ports: Vec<SocketAddr> = (0..50).map(|_| reserve()).collect();
        let mut unique: Vec<u16> = ports.iter().map(SocketAddr::port).collect();
        unique.sort_unstable();
        unique.dedup();
        assert_eq!(unique.len(), ports.len(), "a port was handed out twice");
        let (low, high) = ephemeral_range();
        for addr in &ports {
            assert!(!(low..=high).contains(&addr.port()), "{addr} is ephemeral");
            // A second claim (what another test process would try) is refused.
            assert!(
                claim(&lock_dir(), addr.port()).is_none(),
                "{addr} is not locked"
            );
        }
    }
}
