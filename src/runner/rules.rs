//! Ansible's failure rules as pure functions over the state of the batch in flight:
//! failed and unreachable hosts leave the play, `any_errors_fatal`, `max_fail_percentage`,
//! a batch with no host left, which hosts a `rescue` and an `always` run for, and which
//! hosts run a handler (`force_handlers`). The runner owns one `BatchState` per batch and
//! asks these functions; they touch no host and no lock, so they are tested as a table.

use crate::events::Status;
use indexmap::IndexSet;
use std::collections::{HashMap, HashSet};

/// One host's result for one task, as the rules need it.
#[derive(Debug, Clone, PartialEq)]
pub(super) struct HostOutcome {
    pub host: String,
    pub status: Status,
    /// Failed and not ignored: the host leaves the play.
    pub failed: bool,
    pub changed: bool,
}

impl HostOutcome {
    /// The host leaves the play (or the block): it failed, or could not be reached.
    fn lost(&self) -> bool {
        self.failed || self.status == Status::Unreachable
    }
}

/// The play keywords the rules read.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub(super) struct PlayRules {
    pub any_errors_fatal: bool,
    pub max_fail_percentage: Option<f64>,
    pub force_handlers: bool,
}

/// What the rules decide once a task has run.
#[derive(Debug, Clone, PartialEq)]
pub(super) enum Verdict {
    Continue,
    /// The rollout stops after this task: `reason` is the `NO MORE HOSTS` line, and
    /// `stopped` the hosts that had not failed but a rule stopped (they count as failed).
    Stop {
        reason: String,
        stopped: Vec<String>,
    },
}

/// The batch in flight, owned by the batch: its hosts, the handlers each is notified
/// of, and the tasks `--start-at-task` skips in it. The hosts still in the play (or in a
/// block, or a rescue) are a list the runner passes along with it as `active`.
#[derive(Debug, Default)]
pub(super) struct BatchState {
    pub batch: Vec<String>,
    /// Handler indices each host is notified of, in notification order.
    pub notified: HashMap<String, IndexSet<usize>>,
    /// `--start-at-task`: the tasks (by address) this batch skips.
    pub start_skips: HashSet<usize>,
    /// While the tasks of an `include_tasks` run: the hosts that included them. The other
    /// active hosts wait (Ansible's linear strategy gives them a no-op), still in the play.
    pub scope: Option<Vec<String>>,
}

impl BatchState {
    pub fn new(batch: &[String]) -> BatchState {
        BatchState {
            batch: batch.to_vec(),
            ..BatchState::default()
        }
    }

    /// The hosts of `active` that run the tasks in hand (all, unless an include's scope
    /// narrows them).
    pub fn in_scope(&self, active: &[String]) -> Vec<String> {
        match &self.scope {
            Some(scope) => active.iter().filter(|h| scope.contains(h)).cloned().collect(),
            None => active.to_vec(),
        }
    }

    /// Whether `--start-at-task` skips this task in this batch.
    pub fn start_skips(&self, task: &crate::playbook::Task) -> bool {
        self.start_skips
            .contains(&(task as *const crate::playbook::Task as usize))
    }

    /// A task's outcomes inside a block: hosts that failed leave the block's hosts
    /// (`alive`) but keep their notifications, since a `rescue` may still save them;
    /// hosts that changed are notified of `handlers`.
    pub fn record_in_block(&mut self, alive: &mut Vec<String>, handlers: &[usize], outcomes: &[HostOutcome]) {
        for o in outcomes {
            if o.lost() {
                alive.retain(|h| h != &o.host);
            } else if o.changed {
                self.notify(&o.host, handlers);
            }
        }
    }

    /// A top-level task's outcomes, then the rules: failed hosts leave the play (and lose
    /// their notifications, unless `force_handlers` and still reachable);
    /// `any_errors_fatal` (the play's or `task_fatal`) stops every host; over
    /// `max_fail_percentage` of the batch failed (`failed_in_batch`, counted after this
    /// task) stops them too; a batch with no host left ends the rollout.
    pub fn after_task(
        &mut self,
        active: &mut Vec<String>,
        rules: &PlayRules,
        task_fatal: bool,
        handlers: &[usize],
        outcomes: &[HostOutcome],
        failed_in_batch: usize,
    ) -> Verdict {
        let mut failed_now = Vec::new();
        for o in outcomes {
            if o.lost() {
                failed_now.push(o.host.clone());
                if !rules.force_handlers || o.status == Status::Unreachable {
                    self.notified.remove(&o.host);
                }
            } else if o.changed {
                self.notify(&o.host, handlers);
            }
        }
        active.retain(|h| !failed_now.contains(h));
        if failed_now.is_empty() {
            return Verdict::Continue;
        }
        if rules.any_errors_fatal || task_fatal {
            return Verdict::Stop {
                reason: format!("any_errors_fatal: {} failed", failed_now.join(", ")),
                stopped: std::mem::take(active),
            };
        }
        if let Some(max) = rules.max_fail_percentage {
            if failed_in_batch as f64 * 100.0 / self.batch.len() as f64 > max {
                return Verdict::Stop {
                    reason: format!(
                        "{failed_in_batch} of {} hosts failed, over max_fail_percentage {max}",
                        self.batch.len()
                    ),
                    stopped: std::mem::take(active),
                };
            }
        }
        if active.is_empty() {
            return Verdict::Stop {
                reason: "every host of the batch failed".into(),
                stopped: Vec::new(),
            };
        }
        Verdict::Continue
    }

    fn notify(&mut self, host: &str, handlers: &[usize]) {
        self.notified
            .entry(host.to_owned())
            .or_default()
            .extend(handlers.iter().copied());
    }

    /// The hosts that run handler `index` now, taking the notification: the active hosts
    /// notified of it, and with `force_handlers` also those that failed (`failed`) but are
    /// reachable.
    pub fn take_handler_hosts(
        &mut self,
        active: &[String],
        index: usize,
        force_handlers: bool,
        failed: impl Fn(&str) -> bool,
    ) -> Vec<String> {
        let hosts: Vec<String> = self
            .batch
            .iter()
            .filter(|h| active.contains(h) || (force_handlers && failed(h)))
            .filter(|h| self.notified.get(*h).is_some_and(|n| n.contains(&index)))
            .cloned()
            .collect();
        for h in &hosts {
            if let Some(n) = self.notified.get_mut(h) {
                n.shift_remove(&index);
            }
        }
        hosts
    }

    /// `meta: end_host`: these hosts leave the batch without failing.
    pub fn end_hosts(&mut self, active: &mut Vec<String>, ending: &[String]) {
        for h in ending {
            self.notified.remove(h);
        }
        active.retain(|h| !ending.contains(h));
    }
}

/// Whether a host failed, or is unreachable, as the run's host state says.
pub(super) type HostFlags<'a> = &'a dyn Fn(&str) -> (bool, bool);

/// Which hosts of a block run its `rescue`: those that failed in it; with
/// `any_errors_fatal` every host of the block that is still reachable, since the failure
/// stopped them all (only the failed ones count as rescued).
pub(super) fn rescue_hosts(
    entering: &[String],
    failed: &[String],
    any_errors_fatal: bool,
    flags: HostFlags,
) -> Vec<String> {
    if !any_errors_fatal {
        return failed.to_vec();
    }
    entering
        .iter()
        .filter(|h| failed.contains(h) || !flags(h).1)
        .cloned()
        .collect()
}

/// Which hosts of a block run its `always`: every host that entered and is still
/// reachable, whether it finished the tasks (`alive`), was rescued or failed again
/// (`rescued`, `still_failed`), or, in a block with `any_errors_fatal` and no `rescue`,
/// was stopped by another host's failure.
pub(super) fn always_hosts(
    entering: &[String],
    alive: &[String],
    failed: &[String],
    rescued: &[String],
    any_errors_fatal: bool,
    has_rescue: bool,
    flags: HostFlags,
) -> Vec<String> {
    let stopped = |h: &String| {
        any_errors_fatal && !failed.is_empty() && !has_rescue && !failed.contains(h) && !flags(h).1
    };
    let still_failed = |h: &String| failed.contains(h) && !rescued.contains(h);
    entering
        .iter()
        .filter(|h| alive.contains(h) || rescued.contains(h) || still_failed(h) || stopped(h))
        .cloned()
        .collect()
}

/// The hosts a top-level block lost, as outcomes for `BatchState::after_task`: those of
/// `entering` that did not come out `ok` and are failed or unreachable.
pub(super) fn lost_in_block(entering: &[String], ok: &[String], flags: HostFlags) -> Vec<HostOutcome> {
    entering
        .iter()
        .filter(|h| !ok.contains(h))
        .filter_map(|h| {
            let (failed, unreachable) = flags(h);
            (failed || unreachable).then(|| HostOutcome {
                host: h.clone(),
                status: if unreachable {
                    Status::Unreachable
                } else {
                    Status::Failed
                },
                failed: true,
                changed: false,
            })
        })
        .collect()
}

#[cfg(test)]
mod tests;
