//! Source addresses for client connections.
//!
//! A TCP connection is named by its (source address, source port, server
//! address, server port). Towards one server port, one source address offers
//! only the kernel's ephemeral port range (about 28,000 ports by default), so
//! more connections than that need more source addresses. On Linux the whole
//! of 127.0.0.0/8 is local, so 127.0.0.1, 127.0.0.2, ... work without any
//! configuration: connections are spread over as many of them as needed.
//!
//! Each set of connections takes addresses the previous sets did not use
//! (cycling through 127.0.0.1 to 127.0.0.250), because closed connections
//! leave their ports in TIME_WAIT for a minute, and a kernel looking for a
//! free port among thousands of those makes opening connections crawl.

use std::net::Ipv4Addr;
use std::sync::atomic::{AtomicUsize, Ordering};

/// Connections per source address: a third of the default ephemeral range
/// (32768-60999), so that finding a free port stays cheap.
pub const CONNECTIONS_PER_ADDRESS: usize = 10_000;
/// Addresses cycled through: 127.0.0.1 to 127.0.0.250.
const ADDRESSES: usize = 250;
/// The next address a new set of connections starts at.
static NEXT: AtomicUsize = AtomicUsize::new(0);

/// A round-robin of loopback source addresses, 127.0.0.1 to 127.0.0.N.
#[derive(Debug)]
pub struct SourceAddrs {
    addrs: Vec<Ipv4Addr>,
    next: AtomicUsize,
}

impl SourceAddrs {
    /// Enough addresses for `connections` connections to one server port,
    /// not used by the previous sets.
    pub fn for_connections(connections: usize) -> SourceAddrs {
        let count = connections
            .div_ceil(CONNECTIONS_PER_ADDRESS)
            .clamp(1, ADDRESSES);
        SourceAddrs::block(NEXT.fetch_add(count, Ordering::Relaxed), count)
    }

    /// `count` addresses, from the `first`th (counting from 127.0.0.1, cyclic).
    fn block(first: usize, count: usize) -> SourceAddrs {
        let addrs = (0..count)
            .map(|i| Ipv4Addr::new(127, 0, 0, 1 + ((first + i) % ADDRESSES) as u8))
            .collect();
        SourceAddrs {
            addrs,
            next: AtomicUsize::new(0),
        }
    }

    /// The address for the next connection.
    pub fn next(&self) -> Ipv4Addr {
        let i = self.next.fetch_add(1, Ordering::Relaxed);
        self.addrs[i % self.addrs.len()]
    }

    /// How many addresses are in use.
    pub fn len(&self) -> usize {
        self.addrs.len()
    }

    /// Always false: there is at least one address.
    pub fn is_empty(&self) -> bool {
        self.addrs.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_address_for_few_connections() {
        let addrs = SourceAddrs::for_connections(10);
        assert_eq!(addrs.len(), 1);
        let first = addrs.next();
        assert_eq!(addrs.next(), first);
        assert!(first.is_loopback());
    }

    #[test]
    fn spreads_many_connections() {
        let addrs = SourceAddrs::for_connections(25_000);
        assert_eq!(addrs.len(), 3);
        let seen: Vec<Ipv4Addr> = (0..4).map(|_| addrs.next()).collect();
        assert_ne!(seen[0], seen[1]);
        assert_ne!(seen[1], seen[2]);
        assert_eq!(seen[3], seen[0]);
    }

    #[test]
    fn blocks_cycle_through_the_range() {
        let addrs = SourceAddrs::block(249, 2);
        assert_eq!(addrs.next(), Ipv4Addr::new(127, 0, 0, 250));
        assert_eq!(addrs.next(), Ipv4Addr::new(127, 0, 0, 1));
    }
}
