//! Failed sign-ins, counted so that guessing is slowed without letting a stranger lock
//! an owner out: per client address (refused before any work once over its limit)
//! and per key or user id (failures only: the right secret is always accepted, so
//! wrong guesses for an id from elsewhere never stop its owner).

use std::collections::HashMap;
use std::net::IpAddr;

use parking_lot::Mutex;

/// Limits, each per window.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ThrottleLimits {
    /// Failed attempts from one client address before it is refused outright.
    pub per_address: u32,
    /// Failed attempts for one key or user id before further failures for it are
    /// answered "too many" (a right secret still succeeds).
    pub per_subject: u32,
    /// The window, in seconds.
    pub window_seconds: i64,
}

impl Default for ThrottleLimits {
    fn default() -> Self {
        ThrottleLimits {
            per_address: 30,
            per_subject: 10,
            window_seconds: 60,
        }
    }
}

/// What is counted for one address: IPv4 addresses one by one, IPv6 by /64 (one
/// host usually holds a whole /64), an IPv4-mapped IPv6 address as its IPv4 one.
/// Requests whose address is unknown share one bucket.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub(crate) enum AddressKey {
    V4(u32),
    V6Prefix(u64),
    Unknown,
}

impl AddressKey {
    pub(crate) fn of(client: Option<IpAddr>) -> AddressKey {
        match client {
            None => AddressKey::Unknown,
            Some(IpAddr::V4(v4)) => AddressKey::V4(u32::from(v4)),
            Some(IpAddr::V6(v6)) => match v6.to_ipv4_mapped() {
                Some(v4) => AddressKey::V4(u32::from(v4)),
                None => AddressKey::V6Prefix((u128::from(v6) >> 64) as u64),
            },
        }
    }
}

/// A fixed window: when it started (epoch seconds) and the failures in it.
#[derive(Debug, Clone, Copy)]
struct Window {
    start: i64,
    failures: u32,
}

/// Entries kept per map before expired windows are swept; when every entry is still
/// current, new ones are not counted (failing open for counting, never refusing
/// the right secret).
const MAX_ENTRIES: usize = 100_000;

/// Characters of a subject kept as its counter's key: real key ids and user ids are
/// shorter, and a request with a huge id must not cost that much memory.
const MAX_SUBJECT_CHARS: usize = 160;

#[derive(Default)]
struct Counters {
    by_address: HashMap<AddressKey, Window>,
    by_subject: HashMap<String, Window>,
}

/// Counts failed sign-ins per client address and per subject (`key:<id>` or
/// `user:<id>`). Time is passed in (epoch seconds), so tests control it.
pub struct SignInThrottle {
    limits: ThrottleLimits,
    counters: Mutex<Counters>,
}

/// Why an attempt is answered "too many".
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Throttled {
    /// The client address failed too often: refused before any work.
    Address,
    /// The key or user failed too often; this attempt was wrong too.
    Subject,
}

fn over(window: Option<&Window>, limit: u32, now: i64, window_seconds: i64) -> bool {
    window.is_some_and(|w| now - w.start < window_seconds && w.failures >= limit)
}

fn count<K: std::hash::Hash + Eq>(
    map: &mut HashMap<K, Window>,
    key: K,
    now: i64,
    window_seconds: i64,
) -> u32 {
    if map.len() >= MAX_ENTRIES && !map.contains_key(&key) {
        map.retain(|_, w| now - w.start < window_seconds);
        if map.len() >= MAX_ENTRIES {
            return 0;
        }
    }
    let window = map.entry(key).or_insert(Window {
        start: now,
        failures: 0,
    });
    if now - window.start >= window_seconds {
        *window = Window {
            start: now,
            failures: 0,
        };
    }
    window.failures = window.failures.saturating_add(1);
    window.failures
}

impl SignInThrottle {
    /// A throttle with these limits.
    pub fn new(limits: ThrottleLimits) -> SignInThrottle {
        SignInThrottle {
            limits,
            counters: Mutex::default(),
        }
    }

    /// The limits.
    pub fn limits(&self) -> ThrottleLimits {
        self.limits
    }

    /// Whether an attempt from `client` may be looked at at all: refused when the
    /// address is over its limit. Checked first, before any work.
    pub fn admit(&self, client: Option<IpAddr>, now: i64) -> Result<(), Throttled> {
        let counters = self.counters.lock();
        if over(
            counters.by_address.get(&AddressKey::of(client)),
            self.limits.per_address,
            now,
            self.limits.window_seconds,
        ) {
            Err(Throttled::Address)
        } else {
            Ok(())
        }
    }

    /// Records a failed attempt from `client` for `subject`; answers whether the
    /// subject is now over its limit (the caller then says "too many" instead of
    /// "wrong"). Never called for a right secret, so the owner is never refused.
    pub fn failed(&self, client: Option<IpAddr>, subject: &str, now: i64) -> Result<(), Throttled> {
        let mut counters = self.counters.lock();
        let window = self.limits.window_seconds;
        count(
            &mut counters.by_address,
            AddressKey::of(client),
            now,
            window,
        );
        let subject: String = subject.chars().take(MAX_SUBJECT_CHARS).collect();
        let failures = count(&mut counters.by_subject, subject, now, window);
        if failures > self.limits.per_subject {
            Err(Throttled::Subject)
        } else {
            Ok(())
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(text: &str) -> Option<IpAddr> {
        Some(text.parse().unwrap())
    }

    fn throttle() -> SignInThrottle {
        SignInThrottle::new(ThrottleLimits {
            per_address: 30,
            per_subject: 10,
            window_seconds: 60,
        })
    }

    #[test]
    fn a_stranger_guessing_a_key_does_not_stop_its_owner() {
        let throttle = throttle();
        let (stranger, owner) = (ip("203.0.113.7"), ip("198.51.100.9"));
        let mut refused_before_work = 0;
        for _ in 0..100 {
            match throttle.admit(stranger, 1_000) {
                Ok(()) => {
                    let _ = throttle.failed(stranger, "key:admin", 1_000);
                }
                Err(reason) => {
                    assert_eq!(reason, Throttled::Address);
                    refused_before_work += 1;
                }
            }
        }
        // The stranger got 30 tries, then nothing more was even looked at.
        assert_eq!(refused_before_work, 70);
        // The owner, from elsewhere, is admitted; a right secret records nothing.
        assert_eq!(throttle.admit(owner, 1_001), Ok(()));
        // The owner's own typo is answered "too many" while the key is over its limit,
        // which does not stop the owner's next, right attempt.
        assert_eq!(
            throttle.failed(owner, "key:admin", 1_002),
            Err(Throttled::Subject)
        );
        assert_eq!(throttle.admit(owner, 1_003), Ok(()));
    }

    #[test]
    fn an_address_is_admitted_again_after_the_window() {
        let throttle = throttle();
        let client = ip("192.0.2.1");
        for i in 0..30 {
            assert_eq!(throttle.admit(client, 10), Ok(()));
            let _ = throttle.failed(client, &format!("key:k{i}"), 10);
        }
        assert_eq!(throttle.admit(client, 69), Err(Throttled::Address));
        assert_eq!(throttle.admit(client, 70), Ok(()));
        // Other addresses were never affected.
        assert_eq!(throttle.admit(ip("192.0.2.2"), 11), Ok(()));
    }

    #[test]
    fn subject_failures_count_across_addresses() {
        let throttle = throttle();
        for i in 0..10 {
            let client = ip(&format!("10.0.0.{i}"));
            assert_eq!(throttle.failed(client, "user:ann", 5), Ok(()));
        }
        assert_eq!(
            throttle.failed(ip("10.0.1.1"), "user:ann", 5),
            Err(Throttled::Subject)
        );
        assert_eq!(throttle.failed(ip("10.0.1.1"), "user:bob", 5), Ok(()));
        assert_eq!(throttle.failed(ip("10.0.1.1"), "user:ann", 65), Ok(()));
    }

    #[test]
    fn ipv6_clients_count_by_slash_64_and_mapped_ipv4_as_ipv4() {
        let throttle = throttle();
        for i in 0..30 {
            let client = ip(&format!("2001:db8:1:2::{i:x}"));
            let _ = throttle.failed(client, "key:x", 0);
        }
        assert_eq!(
            throttle.admit(ip("2001:db8:1:2:ffff::1"), 1),
            Err(Throttled::Address)
        );
        assert_eq!(throttle.admit(ip("2001:db8:1:3::1"), 1), Ok(()));
        for _ in 0..30 {
            let _ = throttle.failed(ip("::ffff:192.0.2.9"), "key:y", 0);
        }
        assert_eq!(throttle.admit(ip("192.0.2.9"), 1), Err(Throttled::Address));
    }
}
