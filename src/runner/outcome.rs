//! Ansible's rules once a task has run: notifications, failed hosts leaving the play,
//! `any_errors_fatal`, `max_fail_percentage`, a batch with no host left; and the per-host
//! counters of `PLAY RECAP`.

use super::rules::{BatchState, HostOutcome, Verdict};
use super::{Event, Flow, HostStats, PlayEnv, RunSummary, Runner, Status};
use crate::playbook::Task;
use indexmap::IndexMap;

impl Runner {
    /// Record notifications and failures of one task, then apply Ansible's rules
    /// (`rules::BatchState::after_task`): failed hosts leave the play (so they never reach
    /// post_tasks and stay out of rotation), and a rule may stop the rollout.
    pub(super) fn apply_outcomes(
        &self,
        env: &PlayEnv<'_>,
        state: &mut BatchState,
        active: &mut Vec<String>,
        task: &Task,
        outcomes: Vec<HostOutcome>,
    ) -> Option<Flow> {
        let failed_in_batch = state.batch.iter().filter(|h| self.host_flags(h).0).count();
        let handlers = env.handlers_of(task);
        match state.after_task(
            active,
            &env.rules,
            task.any_errors_fatal,
            &handlers,
            &outcomes,
            failed_in_batch,
        ) {
            Verdict::Continue => None,
            Verdict::Stop { reason, stopped } => {
                self.mark_failed(stopped);
                self.events.emit(Event::NoMoreHosts { reason });
                Some(Flow::Stop)
            }
        }
    }

    /// Hosts stopped by a failure rule: they count as failed for the exit code and for
    /// later plays, without a failed task of their own (as in Ansible's recap).
    pub(super) fn mark_failed(&self, hosts: Vec<String>) {
        let mut state = self.state.lock().unwrap_or_else(|e| e.into_inner());
        for h in hosts {
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

    pub(super) fn summary(&self, interrupted: bool, stopped_by: Option<String>) -> RunSummary {
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
            stopped_by,
        }
    }
}
