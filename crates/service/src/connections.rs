//! Limits on the connections a listener holds, so clients that open sockets and never
//! finish a request cannot pin them: a header read timeout (enforced by hyper, see
//! [`crate::shutdown::serve_with_settings`]) and a cap on the connections one peer address
//! may hold at once ([`PeerLimiter`]).
//!
//! The cap counts by IP address, not by address and port: an attacker opens many sockets
//! from one host. An IPv6 peer is counted by its /64 prefix, the smallest block a host
//! is normally given, so it cannot multiply its budget by cycling through its own
//! addresses. Behind a reverse proxy every connection comes from the proxy's address, so
//! the operator raises the cap or sets it to 0 (no cap) there.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

/// Connection-level limits of a listener, from the `[server]` config section.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ListenerSettings {
    /// How long a client may take to send a request's headers (the first request and each
    /// later one on a kept-alive connection); past it the connection is closed.
    pub header_read_timeout: Duration,
    /// Most connections one peer IP address may hold open at once; 0 means no cap.
    pub max_connections_per_peer: usize,
}

impl Default for ListenerSettings {
    fn default() -> Self {
        ListenerSettings {
            header_read_timeout: Duration::from_secs(10),
            max_connections_per_peer: 128,
        }
    }
}

/// Counts open connections per peer address. Cheap to clone; clones share the counts.
#[derive(Clone, Debug)]
pub struct PeerLimiter {
    max: usize,
    open: Arc<Mutex<HashMap<IpAddr, usize>>>,
}

impl PeerLimiter {
    /// A limiter allowing `max` connections per address (0: no cap).
    pub fn new(max: usize) -> Self {
        PeerLimiter {
            max,
            open: Arc::new(Mutex::new(HashMap::new())),
        }
    }

    /// Counts a new connection from `peer`, or refuses it when the address already holds
    /// the maximum. The connection is uncounted when the returned permit is dropped.
    pub fn admit(&self, peer: IpAddr) -> Option<PeerPermit> {
        let peer = budget_key(peer);
        // The map stays consistent whatever a panicking holder did (each update is one
        // statement), so a poisoned lock is still usable.
        let mut open = self.open.lock().unwrap_or_else(PoisonError::into_inner);
        let count = open.entry(peer).or_insert(0);
        if self.max != 0 && *count >= self.max {
            return None;
        }
        *count += 1;
        Some(PeerPermit {
            peer,
            open: Arc::clone(&self.open),
        })
    }

    /// Connections currently counted for `peer`.
    pub fn open_from(&self, peer: IpAddr) -> usize {
        let open = self.open.lock().unwrap_or_else(PoisonError::into_inner);
        open.get(&budget_key(peer)).copied().unwrap_or(0)
    }
}

/// The address a connection is counted under: IPv4 as is (an IPv4 client on a dual-stack
/// socket shows up as `::ffff:a.b.c.d` and shares its IPv4 budget), IPv6 by its /64.
fn budget_key(peer: IpAddr) -> IpAddr {
    match peer.to_canonical() {
        IpAddr::V6(v6) => {
            let prefix = u128::from(v6) & !u128::from(u64::MAX);
            IpAddr::V6(std::net::Ipv6Addr::from(prefix))
        }
        v4 => v4,
    }
}

/// One counted connection; dropping it uncounts the connection.
#[derive(Debug)]
pub struct PeerPermit {
    peer: IpAddr,
    open: Arc<Mutex<HashMap<IpAddr, usize>>>,
}

impl Drop for PeerPermit {
    fn drop(&mut self) {
        let mut open = self.open.lock().unwrap_or_else(PoisonError::into_inner);
        if let Some(count) = open.get_mut(&self.peer) {
            *count = count.saturating_sub(1);
            // Forget idle addresses, so the map does not grow with every client ever seen.
            if *count == 0 {
                open.remove(&self.peer);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    #[test]
    fn rejects_a_connection_over_the_per_peer_cap_until_one_closes() {
        let limiter = PeerLimiter::new(2);
        let a = limiter.admit(ip("192.0.2.1")).unwrap();
        let _b = limiter.admit(ip("192.0.2.1")).unwrap();
        assert!(limiter.admit(ip("192.0.2.1")).is_none());
        // Another address has its own budget.
        assert!(limiter.admit(ip("192.0.2.2")).is_some());
        drop(a);
        assert!(limiter.admit(ip("192.0.2.1")).is_some());
    }

    #[test]
    fn ipv4_mapped_addresses_share_the_ipv4_budget() {
        let limiter = PeerLimiter::new(1);
        let _a = limiter.admit(ip("192.0.2.1")).unwrap();
        assert!(limiter.admit(ip("::ffff:192.0.2.1")).is_none());
    }

    #[test]
    fn ipv6_peers_are_counted_by_their_64_prefix() {
        let limiter = PeerLimiter::new(1);
        let _a = limiter.admit(ip("2001:db8:1:2::1")).unwrap();
        assert!(limiter.admit(ip("2001:db8:1:2:ffff::9")).is_none());
        assert!(limiter.admit(ip("2001:db8:1:3::1")).is_some());
    }

    #[test]
    fn zero_means_no_cap_and_closed_peers_are_forgotten() {
        let limiter = PeerLimiter::new(0);
        let permits: Vec<_> = (0..1000)
            .map(|_| limiter.admit(ip("192.0.2.1")).unwrap())
            .collect();
        assert_eq!(limiter.open_from(ip("192.0.2.1")), 1000);
        drop(permits);
        assert_eq!(limiter.open_from(ip("192.0.2.1")), 0);
        assert!(limiter.open.lock().unwrap().is_empty());
    }
}
