//! Free loopback ports for the processes and servers tests start (bound, read, released: the
//! caller binds the address next).

use std::net::{SocketAddr, TcpListener, UdpSocket};

/// A TCP address on 127.0.0.1 that was free a moment ago.
pub fn free_tcp() -> SocketAddr {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("free tcp port")
}

/// A UDP address on 127.0.0.1 that was free a moment ago.
pub fn free_udp() -> SocketAddr {
    UdpSocket::bind("127.0.0.1:0")
        .and_then(|s| s.local_addr())
        .expect("free udp port")
}
