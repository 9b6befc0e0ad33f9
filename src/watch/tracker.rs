//! What the checks of one watched target (a host, or the service) add up to, and how often
//! a host may be redeployed. Pure: no clock, no I/O; times are passed in.

use serde::{Deserialize, Serialize};
use std::time::Duration;

/// Where a target stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum HealthState {
    Healthy,
    /// Failed checks in a row, fewer than the `--failures` that make it critical.
    Suspect,
    Critical,
    /// A redeploy is running for it.
    Healing,
    /// The redeploy worked and its checks pass (healthy from the next check on).
    Healed,
    /// Over its redeploy budget: left as it is, not tried again.
    GivenUp,
}

impl HealthState {
    pub fn as_str(self) -> &'static str {
        match self {
            HealthState::Healthy => "healthy",
            HealthState::Suspect => "suspect",
            HealthState::Critical => "critical",
            HealthState::Healing => "healing",
            HealthState::Healed => "healed",
            HealthState::GivenUp => "given_up",
        }
    }
}

impl std::fmt::Display for HealthState {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A change of state, with why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Transition {
    pub from: HealthState,
    pub to: HealthState,
    pub reason: String,
}

/// The checks of one target folded into its state.
#[derive(Debug, Clone)]
pub struct Tracker {
    failures_needed: u32,
    state: HealthState,
    /// Failed checks in a row.
    failed_in_a_row: u32,
}

impl Tracker {
    pub fn new(failures_needed: u32) -> Tracker {
        Tracker {
            failures_needed: failures_needed.max(1),
            state: HealthState::Healthy,
            failed_in_a_row: 0,
        }
    }

    pub fn state(&self) -> HealthState {
        self.state
    }

    pub fn failed_in_a_row(&self) -> u32 {
        self.failed_in_a_row
    }

    /// Fold in one check; the transition it causes, if any. A given-up target stays
    /// given up; a healing one only counts (the healer decides its end).
    pub fn observe(&mut self, ok: bool, detail: &str) -> Option<Transition> {
        if ok {
            self.failed_in_a_row = 0;
        } else {
            self.failed_in_a_row += 1;
        }
        let n = self.failed_in_a_row;
        let to = match (self.state, ok) {
            (HealthState::GivenUp | HealthState::Healing, _) => return None,
            (HealthState::Healthy | HealthState::Healed | HealthState::Suspect, true) => HealthState::Healthy,
            (HealthState::Critical, true) => HealthState::Healthy,
            (_, false) if n >= self.failures_needed => HealthState::Critical,
            (_, false) => HealthState::Suspect,
        };
        let reason = match to {
            HealthState::Healthy if self.state == HealthState::Healed => return self.quietly(to),
            HealthState::Healthy => format!("check passed: {detail}"),
            HealthState::Suspect => format!("suspect ({n}/{}): {detail}", self.failures_needed),
            HealthState::Critical => format!("critical after {n} failed checks ({detail})"),
            _ => unreachable!("observe only reaches healthy, suspect or critical"),
        };
        self.go(to, reason)
    }

    /// The healer starts, ends, or gives up.
    pub fn set(&mut self, to: HealthState, reason: impl Into<String>) -> Option<Transition> {
        if to == HealthState::Healed {
            self.failed_in_a_row = 0;
        }
        self.go(to, reason.into())
    }

    fn quietly(&mut self, to: HealthState) -> Option<Transition> {
        self.state = to;
        None
    }

    fn go(&mut self, to: HealthState, reason: String) -> Option<Transition> {
        let from = self.state;
        // A suspect host failing again is news (the count moved); others only on change.
        if from == to && to != HealthState::Suspect {
            return None;
        }
        self.state = to;
        Some(Transition { from, to, reason })
    }
}

/// One redeploy of a host, as the budget counts it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Attempt {
    /// Seconds since the Unix epoch.
    pub at: u64,
    pub healed: bool,
}

/// What the budget says about another redeploy now.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Allowance {
    /// Go: this is attempt `n` within the hour.
    Go { n: u32 },
    /// Not before `wait` has passed (backoff after a failed attempt).
    Wait(Duration),
    /// `max` redeploys within the last hour already: give up.
    Spent { max: u32 },
}

/// Redeploys per host: at most `max_per_hour` in any sliding hour; after a failed one, the
/// next waits `backoff`, doubled per failed attempt in a row, at most 10 minutes.
#[derive(Debug, Clone)]
pub struct Budget {
    pub max_per_hour: u32,
    pub backoff: Duration,
}

pub const MAX_BACKOFF: Duration = Duration::from_secs(600);
const HOUR: u64 = 3600;

impl Budget {
    /// Attempts within the hour before `now`.
    pub fn within_hour(attempts: &[Attempt], now: u64) -> u32 {
        attempts.iter().filter(|a| a.at + HOUR > now).count() as u32
    }

    /// Whether a host with these attempts may be redeployed at `now`.
    pub fn allows(&self, attempts: &[Attempt], now: u64) -> Allowance {
        let recent = Budget::within_hour(attempts, now);
        if recent >= self.max_per_hour {
            return Allowance::Spent {
                max: self.max_per_hour,
            };
        }
        if let Some(last) = attempts.last().filter(|a| !a.healed) {
            let wait = self.backoff_after(attempts);
            let since = Duration::from_secs(now.saturating_sub(last.at));
            if since < wait {
                return Allowance::Wait(wait - since);
            }
        }
        Allowance::Go { n: recent + 1 }
    }

    /// The wait after the failed attempts at the end of `attempts`.
    pub fn backoff_after(&self, attempts: &[Attempt]) -> Duration {
        let failed = attempts.iter().rev().take_while(|a| !a.healed).count() as u32;
        if failed == 0 {
            return Duration::ZERO;
        }
        let factor = 2u32.saturating_pow(failed - 1);
        self.backoff.saturating_mul(factor).min(MAX_BACKOFF)
    }

    /// After a failed attempt: the wait before the next one, or `None` when the budget is
    /// spent (give up).
    pub fn after_failure(&self, attempts: &[Attempt], now: u64) -> Option<Duration> {
        if Budget::within_hour(attempts, now) >= self.max_per_hour {
            None
        } else {
            Some(self.backoff_after(attempts))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use HealthState::*;

    fn states(tracker: &mut Tracker, checks: &[bool]) -> Vec<Option<(HealthState, HealthState)>> {
        checks
            .iter()
            .map(|ok| tracker.observe(*ok, "x").map(|t| (t.from, t.to)))
            .collect()
    }

    #[test]
    fn failures_in_a_row_make_a_target_suspect_then_critical_and_a_pass_makes_it_healthy() {
        let mut t = Tracker::new(3);
        assert_eq!(
            states(&mut t, &[true, false, false, true, false, false, false, false]),
            vec![
                None,
                Some((Healthy, Suspect)),
                Some((Suspect, Suspect)),
                Some((Suspect, Healthy)),
                Some((Healthy, Suspect)),
                Some((Suspect, Suspect)),
                Some((Suspect, Critical)),
                None,
            ]
        );
        assert_eq!(t.failed_in_a_row(), 4);
        assert_eq!(
            t.observe(true, "HTTP 200").unwrap().reason,
            "check passed: HTTP 200"
        );
    }

    #[test]
    fn the_reasons_say_the_count_and_the_check() {
        let mut t = Tracker::new(2);
        assert_eq!(
            t.observe(false, "connection refused").unwrap().reason,
            "suspect (1/2): connection refused"
        );
        assert_eq!(
            t.observe(false, "connection refused").unwrap().reason,
            "critical after 2 failed checks (connection refused)"
        );
    }

    #[test]
    fn one_failure_is_critical_with_failures_1() {
        let mut t = Tracker::new(1);
        assert_eq!(states(&mut t, &[false]), vec![Some((Healthy, Critical))]);
    }

    #[test]
    fn healing_and_given_up_are_left_by_the_healer_only_and_healed_turns_healthy_quietly() {
        let mut t = Tracker::new(1);
        t.observe(false, "x");
        assert_eq!(t.set(Healing, "redeploy").map(|t| t.to), Some(Healing));
        assert_eq!(states(&mut t, &[false, true]), vec![None, None]);
        assert_eq!(
            t.set(Healed, "ok").map(|t| (t.from, t.to)),
            Some((Healing, Healed))
        );
        assert_eq!(states(&mut t, &[true]), vec![None]);
        assert_eq!(t.state(), Healthy);
        t.set(GivenUp, "spent");
        assert_eq!(states(&mut t, &[true, false]), vec![None, None]);
        assert_eq!(t.state(), GivenUp);
    }

    fn attempt(at: u64, healed: bool) -> Attempt {
        Attempt { at, healed }
    }

    #[test]
    fn the_budget_counts_a_sliding_hour_and_backs_off_doubling_up_to_ten_minutes() {
        let budget = Budget {
            max_per_hour: 3,
            backoff: Duration::from_secs(30),
        };
        assert_eq!(budget.allows(&[], 1000), Allowance::Go { n: 1 });
        let one_failed = [attempt(1000, false)];
        assert_eq!(
            budget.allows(&one_failed, 1010),
            Allowance::Wait(Duration::from_secs(20))
        );
        assert_eq!(budget.allows(&one_failed, 1030), Allowance::Go { n: 2 });
        let two_failed = [attempt(1000, false), attempt(1030, false)];
        assert_eq!(budget.backoff_after(&two_failed), Duration::from_secs(60));
        let three = [attempt(1000, false), attempt(1030, false), attempt(1090, false)];
        assert_eq!(budget.allows(&three, 2000), Allowance::Spent { max: 3 });
        assert_eq!(budget.after_failure(&three, 1090), None);
        // An hour after the first, one slot is free again.
        assert_eq!(budget.allows(&three, 4600), Allowance::Go { n: 3 });
        let healed_last = [attempt(1000, false), attempt(1030, true)];
        assert_eq!(budget.allows(&healed_last, 1031), Allowance::Go { n: 3 });
        let many: Vec<Attempt> = (0..10).map(|i| attempt(i, false)).collect();
        let big = Budget {
            max_per_hour: 100,
            backoff: Duration::from_secs(30),
        };
        assert_eq!(big.backoff_after(&many), MAX_BACKOFF);
    }

    #[test]
    fn after_a_failure_the_budget_says_wait_or_give_up() {
        let budget = Budget {
            max_per_hour: 2,
            backoff: Duration::from_secs(1),
        };
        assert_eq!(
            budget.after_failure(&[attempt(10, false)], 10),
            Some(Duration::from_secs(1))
        );
        assert_eq!(
            budget.after_failure(&[attempt(10, false), attempt(12, false)], 12),
            None
        );
    }
}
