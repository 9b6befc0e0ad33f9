//! Ansible's rules once a task has run: notifications, failed hosts leaving the play,
//! `any_errors_fatal`, `max_fail_percentage`, a batch with no host left; and the per-host
//! counters of `PLAY RECAP`.

use super::{Event, Flow, HostOutcome, HostStats, PlayEnv, RunSummary, Runner, Status};
use crate::playbook::Task;
use indexmap::{IndexMap, IndexSet};
use std::collections::HashMap;

impl Runner {
    /// Record notifications and failures of one task, then apply Ansible's rules: failed
    /// hosts leave the play (so they never reach post_tasks and stay out of rotation),
    /// `any_errors_fatal`, `max_fail_percentage`, and a batch with no hosts left ends the run.
    pub(super) fn apply_outcomes(
        &self,
        env: &PlayEnv<'_>,
        batch: &[String],
        active: &mut Vec<String>,
        notified: &mut HashMap<String, IndexSet<usize>>,
        task: &Task,
        outcomes: Vec<HostOutcome>,
    ) -> Option<Flow> {
        let mut failed_now = Vec::new();
        for o in &outcomes {
            if o.failed || o.status == Status::Unreachable {
                failed_now.push(o.host.clone());
                if !env.play.force_handlers || o.status == Status::Unreachable {
                    notified.remove(&o.host);
                }
            } else if o.changed {
                for name in &task.notify {
                    let handlers = env.handlers.get(name).into_iter().flatten();
                    notified.entry(o.host.clone()).or_default().extend(handlers);
                }
            }
        }
        active.retain(|h| !failed_now.contains(h));
        if failed_now.is_empty() {
            return None;
        }
        let play = env.play;
        if play.any_errors_fatal || task.any_errors_fatal {
            self.mark_failed(active);
            self.events.emit(Event::NoMoreHosts {
                reason: format!("any_errors_fatal: {} failed", failed_now.join(", ")),
            });
            return Some(Flow::Stop);
        }
        if let Some(max) = play.max_fail_percentage {
            let state = self.state.lock().unwrap_or_else(|e| e.into_inner());
            let failed = batch
                .iter()
                .filter(|h| state.get(*h).is_some_and(|s| s.failed))
                .count();
            drop(state);
            if failed as f64 * 100.0 / batch.len() as f64 > max {
                self.mark_failed(active);
                self.events.emit(Event::NoMoreHosts {
                    reason: format!(
                        "{failed} of {} hosts failed, over max_fail_percentage {max}",
                        batch.len()
                    ),
                });
                return Some(Flow::Stop);
            }
        }
        if active.is_empty() {
            self.events.emit(Event::NoMoreHosts {
                reason: "every host of the batch failed".into(),
            });
            return Some(Flow::Stop);
        }
        None
    }

    /// Hosts stopped by a failure rule: they count as failed for the exit code and for
    /// later plays, without a failed task of their own (as in Ansible's recap).
    pub(super) fn mark_failed(&self, hosts: &mut Vec<String>) {
        let mut state = self.state.lock().unwrap_or_else(|e| e.into_inner());
        for h in hosts.drain(..) {
            state.entry(h).or_default().failed = true;
        }
    }

    /// Count a task's result for a host as Ansible's stats do.
    pub(super) fn count(&self, host: &str, status: Status, changed: bool, ignored: bool) {
        let mut state = self.state.lock().unwrap_or_else(|e| e.into_inner());
        let s = state.entry(host.to_owned()).or_default();
        match status {
            Status::Unreachable if !ignored => {
                s.stats.unreachable += 1;
                s.unreachable = true;
            }
            Status::Failed if !ignored => {
                s.stats.failed += 1;
                s.failed = true;
            }
            Status::Skipped => s.stats.skipped += 1,
            // An ignored unreachable host (`ignore_unreachable`) counts as ok and ignored.
            Status::Unreachable | Status::Failed | Status::Ok | Status::Changed => {
                s.stats.ok += 1;
                if changed {
                    s.stats.changed += 1;
                }
                if ignored {
                    s.stats.ignored += 1;
                }
            }
        }
    }

    pub(super) fn summary(&self, interrupted: bool) -> RunSummary {
        let state = self.state.lock().unwrap_or_else(|e| e.into_inner());
        RunSummary {
            // Sorted by name, as Ansible's recap is; hosts finish in any order. Only hosts
            // that ran something (a delegate given facts has a state but no stats).
            stats: {
                let mut stats: IndexMap<String, HostStats> = state
                    .iter()
                    .filter(|(_, s)| {
                        let t = &s.stats;
                        t.ok + t.changed + t.unreachable + t.failed + t.skipped + t.rescued + t.ignored > 0
                    })
                    .map(|(h, s)| (h.clone(), s.stats))
                    .collect();
                stats.sort_keys();
                stats
            },
            failed_hosts: state
                .iter()
                .filter(|(_, s)| s.failed)
                .map(|(h, _)| h.clone())
                .collect(),
            unreachable_hosts: state
                .iter()
                .filter(|(_, s)| s.unreachable)
                .map(|(h, _)| h.clone())
                .collect(),
            interrupted,
            stopped_by: self.stopped_by.lock().unwrap_or_else(|e| e.into_inner()).clone(),
        }
    }
}
