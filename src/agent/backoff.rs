//! Restart back-off with the kubelet's numbers. Pure: time is passed in.
//!
//! CrashLoopBackOff (`pkg/kubelet/kubelet.go`, `flowcontrol.Backoff`): the first restart
//! after a crash is immediate; then the delay starts at 10 s and doubles per restart up to
//! 300 s; an entry not updated for 600 s (the container ran 10 minutes) is forgotten, so
//! the next crash restarts immediately again. Image pulls back off 10 s → 300 s.

use std::time::{Duration, Instant};

/// Durations of a back-off schedule.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BackoffPolicy {
    /// First non-zero delay.
    pub initial: Duration,
    /// Cap.
    pub max: Duration,
    /// Forget the history after this long without an update.
    pub reset_after: Duration,
    /// Whether the very first failure waits `initial` (image pulls) or restarts at once.
    pub first_immediate: bool,
}

impl BackoffPolicy {
    /// The kubelet's CrashLoopBackOff: immediate, 10 s, 20 s … 300 s, reset after 600 s.
    pub const CRASH_LOOP: BackoffPolicy = BackoffPolicy {
        initial: Duration::from_secs(10),
        max: Duration::from_secs(300),
        reset_after: Duration::from_secs(600),
        first_immediate: true,
    };
    /// The kubelet's image pull back-off: 10 s … 300 s.
    pub const IMAGE_PULL: BackoffPolicy = BackoffPolicy {
        initial: Duration::from_secs(10),
        max: Duration::from_secs(300),
        reset_after: Duration::from_secs(600),
        first_immediate: false,
    };

    /// Reconnecting to the coordinator (reports): 1 s doubling to 30 s.
    pub const RECONNECT: BackoffPolicy = BackoffPolicy {
        initial: Duration::from_secs(1),
        max: Duration::from_secs(30),
        reset_after: Duration::MAX,
        first_immediate: false,
    };
    /// Reopening the log tunnel: 0.5 s doubling to 10 s.
    pub const TUNNEL: BackoffPolicy = BackoffPolicy {
        initial: Duration::from_millis(500),
        max: Duration::from_secs(10),
        reset_after: Duration::MAX,
        first_immediate: false,
    };
    /// Re-establishing the watch on the manifest directory: 1 s doubling to 20 s.
    pub const WATCH: BackoffPolicy = BackoffPolicy {
        initial: Duration::from_secs(1),
        max: Duration::from_secs(20),
        reset_after: Duration::MAX,
        first_immediate: false,
    };

    /// Every duration multiplied by `factor` (a test knob: `PODFLEET_BACKOFF_SCALE`).
    pub fn scaled(self, factor: f64) -> BackoffPolicy {
        let f = |d: Duration| Duration::from_secs_f64(d.as_secs_f64() * factor);
        BackoffPolicy {
            initial: f(self.initial),
            max: f(self.max),
            reset_after: f(self.reset_after),
            ..self
        }
    }
}

/// Back-off state for one key (pod identity + container + container spec).
#[derive(Debug, Clone)]
pub struct Backoff {
    policy: BackoffPolicy,
    current: Option<Duration>,
    last_update: Option<Instant>,
}

impl Backoff {
    /// Fresh state.
    pub fn new(policy: BackoffPolicy) -> Self {
        Backoff {
            policy,
            current: None,
            last_update: None,
        }
    }

    /// A failure happened at `now`: how long to wait before the next attempt.
    pub fn next_delay(&mut self, now: Instant) -> Duration {
        if let Some(last) = self.last_update
            && now.saturating_duration_since(last) > self.policy.reset_after
        {
            self.current = None;
        }
        let delay = match self.current {
            None if self.policy.first_immediate => Duration::ZERO,
            None => self.policy.initial,
            Some(d) => d,
        };
        self.current = Some(match self.current {
            None if self.policy.first_immediate => self.policy.initial,
            None => (self.policy.initial * 2).min(self.policy.max),
            Some(d) => (d * 2).min(self.policy.max),
        });
        self.last_update = Some(now);
        delay
    }

    /// Forget the history: the next failure waits as the first did (a connection that
    /// worked for a while, a watch re-established).
    pub fn reset(&mut self) {
        self.current = None;
        self.last_update = None;
    }

    /// Note a successful (re)start at `now`: the reset clock counts from here.
    pub fn started(&mut self, now: Instant) {
        if self.current.is_some() {
            self.last_update = Some(now);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn secs(d: Duration) -> u64 {
        d.as_secs()
    }

    #[test]
    fn crash_loop_schedule_matches_kubelet() {
        let mut b = Backoff::new(BackoffPolicy::CRASH_LOOP);
        let t0 = Instant::now();
        let delays: Vec<u64> = (0..9)
            .map(|i| secs(b.next_delay(t0 + Duration::from_secs(i))))
            .collect();
        assert_eq!(delays, vec![0, 10, 20, 40, 80, 160, 300, 300, 300]);
    }

    #[test]
    fn reconnects_double_to_their_cap_and_reset() {
        for (policy, want) in [
            (
                BackoffPolicy::RECONNECT,
                vec![1000, 2000, 4000, 8000, 16000, 30000, 30000],
            ),
            (
                BackoffPolicy::TUNNEL,
                vec![500, 1000, 2000, 4000, 8000, 10000, 10000],
            ),
            (
                BackoffPolicy::WATCH,
                vec![1000, 2000, 4000, 8000, 16000, 20000, 20000],
            ),
        ] {
            let mut b = Backoff::new(policy);
            let t0 = Instant::now();
            let got: Vec<u128> = (0..7)
                .map(|i| b.next_delay(t0 + Duration::from_secs(i)).as_millis())
                .collect();
            assert_eq!(got, want);
            b.reset();
            assert_eq!(b.next_delay(t0).as_millis(), want[0]);
        }
    }

    #[test]
    fn resets_after_ten_minutes_of_running() {
        let mut b = Backoff::new(BackoffPolicy::CRASH_LOOP);
        let t0 = Instant::now();
        b.next_delay(t0);
        b.next_delay(t0 + Duration::from_secs(1));
        let started = t0 + Duration::from_secs(11);
        b.started(started);
        // Crashes 599 s after its last start: still backing off.
        assert_eq!(secs(b.next_delay(started + Duration::from_secs(599))), 20);
        let started = started + Duration::from_secs(619);
        b.started(started);
        // Runs for more than 600 s: history forgotten, restart immediately.
        assert_eq!(secs(b.next_delay(started + Duration::from_secs(601))), 0);
        assert_eq!(secs(b.next_delay(started + Duration::from_secs(602))), 10);
    }

    #[test]
    fn image_pull_waits_from_the_first_failure() {
        let mut b = Backoff::new(BackoffPolicy::IMAGE_PULL);
        let t0 = Instant::now();
        let delays: Vec<u64> = (0..7)
            .map(|i| secs(b.next_delay(t0 + Duration::from_secs(i))))
            .collect();
        assert_eq!(delays, vec![10, 20, 40, 80, 160, 300, 300]);
    }

    #[test]
    fn scaling_for_tests() {
        let p = BackoffPolicy::CRASH_LOOP.scaled(0.1);
        assert_eq!(p.initial, Duration::from_secs(1));
        assert_eq!(p.max, Duration::from_secs(30));
    }
}
