//! UDP sockets with a receive buffer of our choosing (std has no `SO_RCVBUF`): the
//! controller's fleet endpoint, and the link-fault proxy in the tests.

use std::io;
use std::net::{SocketAddr, UdpSocket};

use socket2::{Domain, Protocol, Socket, Type};

/// A blocking UDP socket bound to `addr` that asked the kernel for a `recv_buffer`-byte
/// receive buffer (0: the kernel's default). The kernel caps the request at
/// `net.core.rmem_max`; a refused request is logged and the socket kept, only sooner full.
pub fn bind_udp(addr: SocketAddr, recv_buffer: usize) -> io::Result<UdpSocket> {
    let socket = Socket::new(Domain::for_address(addr), Type::DGRAM, Some(Protocol::UDP))?;
    if recv_buffer > 0
        && let Err(e) = socket.set_recv_buffer_size(recv_buffer)
    {
        tracing::warn!(asked = recv_buffer, "cannot size a UDP receive buffer: {e}");
    }
    socket.bind(&addr.into())?;
    Ok(socket.into())
}
