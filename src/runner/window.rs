//! Connections in a window (`--max-connections`): a run whose masters fit under the limit
//! keeps them all open, as it always did. Above it, only the batch in flight, the next
//! batch (opened while this one runs) and the hosts every batch talks to (delegates, the
//! load balancers' hosts, the rollout lock holders) stay connected; a batch's hosts are
//! disconnected when it ends. A host that cannot be reconnected later is unreachable, as
//! a task finds it.

use super::Runner;
use crate::host::ConnectSpec;
use indexmap::IndexMap;
use std::collections::HashSet;

#[derive(Debug, Default)]
pub(super) struct Window {
    /// The run has more masters than `--max-connections`: hosts are closed behind batches.
    pub active: bool,
    /// Hosts that stay connected for the whole run.
    pub pinned: HashSet<String>,
    /// The batches each play will run (1-based play index - 1), as planned.
    pub plays: Vec<Vec<Vec<String>>>,
    /// How preflight reached each host (one spec per `remote_user`/`port` used).
    pub specs: IndexMap<String, Vec<ConnectSpec>>,
}

impl Window {
    /// The first batch after the last one of play `play_index` (1-based) that has hosts.
    pub fn first_batch_after_play(&self, play_index: usize) -> Vec<String> {
        let later = self.plays.iter().skip(play_index);
        later.flat_map(|b| b.first()).next().cloned().unwrap_or_default()
    }

    /// Hosts kept connected right after preflight: the first two batches to run, and the
    /// pinned hosts.
    pub fn kept_after_preflight(&self) -> HashSet<String> {
        let batches = self.plays.iter().flatten().take(2).flatten();
        batches.chain(&self.pinned).cloned().collect()
    }
}

impl Runner {
    pub(super) fn window(&self) -> std::sync::MutexGuard<'_, Window> {
        self.window.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// The batch after `batch` of play `play_index`: the next one of `batches` (the play's
    /// batches as it runs them), else the next play's first.
    pub(super) fn batch_after(&self, play_index: usize, batches: &[Vec<String>], i: usize) -> Vec<String> {
        match batches.get(i + 1) {
            Some(next) => next.clone(),
            None => self.window().first_batch_after_play(play_index),
        }
    }

    /// Open the masters of `hosts` (the next batch) while the current batch runs,
    /// `--forks` at a time. Nothing to do when the window is off (they are all open).
    pub(super) async fn open_ahead(&self, hosts: &[String]) {
        let specs: Vec<ConnectSpec> = {
            let window = self.window();
            if !window.active {
                return;
            }
            let specs = hosts.iter().filter_map(|h| window.specs.get(h)).flatten();
            specs.cloned().collect()
        };
        if !specs.is_empty() {
            self.conns.open_ahead(&specs, self.opts.forks.max(1)).await;
        }
    }

    /// Close every master not needed by `next` (the batch that runs next) or a pinned
    /// host. A connection still in use (a held lock, a command) is left open.
    pub(super) async fn close_behind(&self, next: &[String]) {
        let pinned = {
            let window = self.window();
            if !window.active {
                return;
            }
            window.pinned.clone()
        };
        let keep = |name: &str| pinned.contains(name) || next.iter().any(|h| h == name);
        let behind: Vec<ConnectSpec> = self
            .conns
            .open_specs()
            .into_iter()
            .filter(|s| !keep(&s.name))
            .collect();
        let closes = behind.iter().map(|spec| self.conns.close(spec));
        futures::future::join_all(closes).await;
    }

    /// Log the most masters the run had open at once; returns it when the window was on.
    pub(super) fn report_peak_masters(&self) -> Option<usize> {
        let (peak, reopened) = self.conns.peak_masters();
        let active = self.window().active;
        tracing::debug!(
            target: "zdd::ssh",
            "at most {peak} masters open at once ({reopened} reopened; --max-connections {}{})",
            self.opts.max_connections,
            if active { ", window on" } else { "" }
        );
        active.then_some(peak)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn names(v: &[&str]) -> Vec<String> {
        v.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn the_first_two_batches_and_the_pinned_hosts_stay_after_preflight() {
        let window = Window {
            active: true,
            pinned: ["lb".to_owned()].into(),
            plays: vec![
                vec![names(&["a"])],
                vec![],
                vec![names(&["b", "c"]), names(&["d"])],
            ],
            specs: IndexMap::new(),
        };
        let mut kept: Vec<String> = window.kept_after_preflight().into_iter().collect();
        kept.sort();
        assert_eq!(kept, names(&["a", "b", "c", "lb"]));
        assert_eq!(window.first_batch_after_play(1), names(&["b", "c"]));
        assert_eq!(window.first_batch_after_play(3), Vec::<String>::new());
    }
}
