//! Growing delays for failed sign-ins. Every failure for an account (a key id or a
//! user name, known or not: both are counted alike) and from a client address makes
//! the next attempt from that address wait longer before it is even checked: after
//! a few free failures, a base delay that doubles with each further failure, at most
//! 30 seconds. Attempts from one address for one account take turns, so sending
//! many at once does not beat the delay.
//!
//! Nobody can lock an owner out: the delay an account's failures cause applies to
//! the addresses they came from, so its owner, from another address, is checked at
//! once, and a right secret is always accepted when its turn comes. (Behind a
//! reverse proxy every client would share the proxy's address: the server takes
//! the client's from `X-Forwarded-For` when the proxy is listed as trusted.) What stops an
//! attacker who spreads guesses over many addresses is the per-address limit
//! (`throttle`) and the delay each address earns across accounts.

use std::collections::HashMap;
use std::net::IpAddr;

use parking_lot::Mutex;

use super::throttle::AddressKey;

/// How delays grow.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DelayPolicy {
    /// The first delay, in milliseconds; each further failure doubles it.
    pub base_ms: i64,
    /// The longest delay, in milliseconds.
    pub max_ms: i64,
    /// Failures of an account before its delays start (typos are free).
    pub free_account_failures: u32,
    /// Failures from an address, for any account, before its delays start.
    pub free_address_failures: u32,
    /// Failures older than this are forgotten, in milliseconds.
    pub memory_ms: i64,
}

impl Default for DelayPolicy {
    fn default() -> Self {
        DelayPolicy {
            base_ms: 1000,
            max_ms: 30_000,
            free_account_failures: 3,
            free_address_failures: 5,
            memory_ms: 15 * 60_000,
        }
    }
}

impl DelayPolicy {
    /// The delay after `failures`, with `free` of them free.
    fn delay(&self, failures: u32, free: u32) -> i64 {
        if failures < free {
            return 0;
        }
        let doublings = (failures - free).min(30);
        self.base_ms
            .saturating_mul(1_i64 << doublings)
            .min(self.max_ms)
    }
}

/// Failures counted for one account or address.
#[derive(Debug, Clone, Copy)]
struct Failures {
    count: u32,
    last_ms: i64,
}

/// Entries kept per map before old ones are swept; past that, new ones are not
/// tracked (no delay rather than unbounded memory).
const MAX_ENTRIES: usize = 100_000;

/// Characters of an account name kept as its key.
const MAX_ACCOUNT_CHARS: usize = 160;

#[derive(Default)]
struct State {
    accounts: HashMap<String, Failures>,
    addresses: HashMap<AddressKey, Failures>,
    /// When the next attempt from an address for an account may be checked.
    turns: HashMap<(String, AddressKey), i64>,
    /// When the next attempt from an address, for any account, may be checked.
    address_turns: HashMap<AddressKey, i64>,
}

/// The delays, shared by every sign-in of a node. They run on the machine's
/// monotonic clock (they are waits, not records), from [`SignInDelays::now_ms`].
pub struct SignInDelays {
    policy: DelayPolicy,
    state: Mutex<State>,
    origin: std::time::Instant,
}

fn account_key(account: &str) -> String {
    account.chars().take(MAX_ACCOUNT_CHARS).collect()
}

fn bounded<K: std::hash::Hash + Eq, V>(map: &mut HashMap<K, V>, keep: impl Fn(&V) -> bool) -> bool {
    if map.len() >= MAX_ENTRIES {
        map.retain(|_, v| keep(v));
    }
    map.len() < MAX_ENTRIES
}

impl SignInDelays {
    /// Delays growing by `policy`.
    pub fn new(policy: DelayPolicy) -> SignInDelays {
        SignInDelays {
            policy,
            state: Mutex::default(),
            origin: std::time::Instant::now(),
        }
    }

    /// Milliseconds on the monotonic clock the delays run on.
    pub fn now_ms(&self) -> i64 {
        i64::try_from(self.origin.elapsed().as_millis()).unwrap_or(i64::MAX)
    }

    /// The policy.
    pub fn policy(&self) -> DelayPolicy {
        self.policy
    }

    fn recent(&self, failures: Option<&Failures>, now_ms: i64) -> u32 {
        failures
            .filter(|f| now_ms - f.last_ms < self.policy.memory_ms)
            .map_or(0, |f| f.count)
    }

    /// Takes the attempt's turn: how many milliseconds it must wait before it is
    /// checked, or none when its turn is further away than the longest delay (so
    /// many attempts from this address are waiting already that it is refused).
    pub fn take_turn(&self, client: Option<IpAddr>, account: &str, now_ms: i64) -> Option<i64> {
        let address = AddressKey::of(client);
        let account = account_key(account);
        let mut state = self.state.lock();
        let account_failures = self.recent(state.accounts.get(&account), now_ms);
        let address_failures = self.recent(state.addresses.get(&address), now_ms);
        let pair = (account, address);
        let start = now_ms
            .max(state.turns.get(&pair).copied().unwrap_or(now_ms))
            .max(state.address_turns.get(&address).copied().unwrap_or(now_ms));
        let wait = start - now_ms;
        if wait > self.policy.max_ms {
            return None;
        }
        // The turn after this one assumes this attempt fails; a success gives the
        // account's turns back.
        let account_delay = self
            .policy
            .delay(account_failures, self.policy.free_account_failures);
        let address_delay = self
            .policy
            .delay(address_failures, self.policy.free_address_failures);
        if account_delay > 0 && bounded(&mut state.turns, |t| *t > now_ms) {
            state.turns.insert(pair, start + account_delay);
        }
        if address_delay > 0 && bounded(&mut state.address_turns, |t| *t > now_ms) {
            state.address_turns.insert(address, start + address_delay);
        }
        Some(wait)
    }

    /// Records a failed attempt.
    pub fn failed(&self, client: Option<IpAddr>, account: &str, now_ms: i64) {
        let memory = self.policy.memory_ms;
        let fresh = |f: &Failures| now_ms - f.last_ms < memory;
        let mut state = self.state.lock();
        let account = account_key(account);
        let count = self.recent(state.accounts.get(&account), now_ms);
        if bounded(&mut state.accounts, fresh) || state.accounts.contains_key(&account) {
            state.accounts.insert(
                account,
                Failures {
                    count: count.saturating_add(1),
                    last_ms: now_ms,
                },
            );
        }
        let address = AddressKey::of(client);
        let count = self.recent(state.addresses.get(&address), now_ms);
        if bounded(&mut state.addresses, fresh) || state.addresses.contains_key(&address) {
            state.addresses.insert(
                address,
                Failures {
                    count: count.saturating_add(1),
                    last_ms: now_ms,
                },
            );
        }
    }

    /// Records a right secret from `client`: that address's turn for the account is
    /// given back. The account's failures stay counted (until they are forgotten),
    /// so an owner who signs in often does not reset a guesser's pace elsewhere,
    /// and the address's own delays stay.
    pub fn succeeded(&self, client: Option<IpAddr>, account: &str) {
        let pair = (account_key(account), AddressKey::of(client));
        self.state.lock().turns.remove(&pair);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(text: &str) -> Option<IpAddr> {
        text.parse().ok()
    }

    fn delays() -> SignInDelays {
        SignInDelays::new(DelayPolicy::default())
    }

    #[test]
    fn failures_for_an_account_make_its_guesser_wait_longer_up_to_30_seconds() {
        let delays = delays();
        let guesser = ip("203.0.113.7");
        let mut now = 0;
        let mut waits = Vec::new();
        for _ in 0..12 {
            let wait = delays.take_turn(guesser, "user:ann", now).expect("a turn");
            now += wait;
            waits.push(wait);
            delays.failed(guesser, "user:ann", now);
        }
        // Free, then 1 s doubling, capped at 30 s.
        assert_eq!(
            waits,
            [
                0, 0, 0, 0, 1000, 2000, 4000, 8000, 16_000, 30_000, 30_000, 30_000
            ]
        );
    }

    #[test]
    fn the_owner_from_another_address_is_checked_at_once() {
        let delays = delays();
        let guesser = ip("203.0.113.7");
        for i in 0..10 {
            let now = i * 30_000;
            let _ = delays.take_turn(guesser, "user:ann", now);
            delays.failed(guesser, "user:ann", now);
        }
        assert_eq!(
            delays.take_turn(ip("198.51.100.9"), "user:ann", 300_000),
            Some(0)
        );
        // Another account from the guesser's address waits only for the address's
        // own delay.
        let other = delays
            .take_turn(guesser, "user:bob", 300_000)
            .expect("turn");
        assert!(other <= 30_000, "{other}");
    }

    #[test]
    fn attempts_sent_at_once_take_turns_and_too_many_are_refused() {
        let delays = delays();
        let guesser = ip("203.0.113.7");
        for _ in 0..6 {
            delays.failed(guesser, "user:ann", 0);
        }
        // 6 failures: each turn is 8 s after the one before.
        let waits: Vec<Option<i64>> = (0..6)
            .map(|_| delays.take_turn(guesser, "user:ann", 0))
            .collect();
        assert_eq!(
            waits,
            [Some(0), Some(8000), Some(16_000), Some(24_000), None, None]
        );
    }

    #[test]
    fn a_right_secret_gives_its_address_the_turn_back_and_nothing_else() {
        let delays = delays();
        let (owner, guesser) = (ip("198.51.100.9"), ip("203.0.113.7"));
        for _ in 0..4 {
            delays.failed(guesser, "user:ann", 0);
        }
        assert_eq!(delays.take_turn(owner, "user:ann", 0), Some(0));
        assert!(
            delays
                .take_turn(owner, "user:ann", 0)
                .is_some_and(|w| w > 0)
        );
        assert_eq!(delays.take_turn(guesser, "user:ann", 0), Some(0));
        delays.succeeded(owner, "user:ann");
        // The owner's turn is back; the guesser still waits for the one it took.
        assert_eq!(delays.take_turn(owner, "user:ann", 1), Some(0));
        assert!(
            delays
                .take_turn(guesser, "user:ann", 1)
                .is_some_and(|w| w > 0)
        );
        // Failures are forgotten after 15 minutes.
        for _ in 0..8 {
            delays.failed(guesser, "user:cy", 0);
        }
        assert_eq!(
            delays.take_turn(ip("192.0.2.1"), "user:cy", 16 * 60_000),
            Some(0)
        );
    }
}
