//! Failed logins per client address: at most `MAX_PER_ADDRESS` in the window, then
//! RATE_LIMITED for that address until the oldest leaves it. Per process and in memory:
//! it only has to slow a guesser down; the per-account limit, which must hold across
//! processes, lives in the ledger (`domain::account::user::login`).

use domain::Timestamp;
use std::{
    collections::{HashMap, VecDeque},
    net::IpAddr,
    sync::Mutex,
};

pub const MAX_PER_ADDRESS: usize = 100;
const WINDOW_MICROS: i64 = domain::account::user::FAILED_LOGIN_WINDOW_MICROS;
/// Past this many addresses, those with no failure in the window are forgotten.
const MAX_ADDRESSES: usize = 100_000;

#[derive(Default)]
pub struct LoginThrottle {
    failures: Mutex<HashMap<IpAddr, VecDeque<Timestamp>>>,
}

impl LoginThrottle {
    /// `Some(until)` when the address must wait.
    pub fn blocked_until(&self, address: IpAddr, now: Timestamp) -> Option<Timestamp> {
        let mut map = self
            .failures
            .lock()
            .expect("the throttle's lock is never poisoned");
        let times = map.get_mut(&address)?;
        forget_old(times, now);
        (times.len() >= MAX_PER_ADDRESS)
            .then(|| times.front().map(|t| t.plus_micros(WINDOW_MICROS)))
            .flatten()
    }

    pub fn record_failure(&self, address: IpAddr, now: Timestamp) {
        let mut map = self
            .failures
            .lock()
            .expect("the throttle's lock is never poisoned");
        if map.len() >= MAX_ADDRESSES {
            map.retain(|_, times| {
                forget_old(times, now);
                !times.is_empty()
            });
        }
        let times = map.entry(address).or_default();
        forget_old(times, now);
        times.push_back(now);
        while times.len() > MAX_PER_ADDRESS {
            times.pop_front();
        }
    }
}

fn forget_old(times: &mut VecDeque<Timestamp>, now: Timestamp) {
    while times
        .front()
        .is_some_and(|t| t.plus_micros(WINDOW_MICROS) <= now)
    {
        times.pop_front();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_hundred_failures_block_the_address_until_the_window_passes() {
        let throttle = LoginThrottle::default();
        let ip: IpAddr = "192.0.2.7".parse().unwrap();
        let other: IpAddr = "192.0.2.8".parse().unwrap();
        let t0 = Timestamp::from_micros(1_000_000_000);
        for i in 0..99 {
            throttle.record_failure(ip, t0.plus_micros(i));
        }
        assert_eq!(throttle.blocked_until(ip, t0.plus_micros(100)), None);
        throttle.record_failure(ip, t0.plus_micros(99));
        let until = throttle.blocked_until(ip, t0.plus_micros(100)).unwrap();
        assert_eq!(until, t0.plus_micros(WINDOW_MICROS));
        assert_eq!(throttle.blocked_until(other, t0), None);
        assert_eq!(throttle.blocked_until(ip, until), None);
    }
}
