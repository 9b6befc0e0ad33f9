//! A task that runs through Ansible (`modules::via_ansible`) runs once for the batch,
//! not once per host: each host goes through its own conditions, loop, arguments and
//! retries as for any module, then hands its part to the task's `AnsibleBatch` and waits.
//! When every host still running the task is waiting, one invocation runs for all of them
//! and each gets its own result back. A host that finishes without asking (its `when` was
//! false, its loop has fewer items) leaves, so nobody waits for it. Loop items and `until`
//! retries make rounds: each round is one invocation.

use crate::modules::via_ansible::{self, HostEntry, Invocation, Reported};
use std::sync::Mutex;
use tokio::sync::oneshot;

type Answer = Result<Reported, String>;

pub(super) struct AnsibleBatch {
    /// The task's module, library directories, forks, `no_log` and directory; the hosts
    /// are filled in per round.
    task: Invocation,
    state: Mutex<Round>,
}

struct Round {
    /// Hosts still running the task (waiting or not).
    running: usize,
    waiting: Vec<(HostEntry, oneshot::Sender<Answer>)>,
}

impl AnsibleBatch {
    pub(super) fn new(task: Invocation, hosts: usize) -> AnsibleBatch {
        AnsibleBatch {
            task,
            state: Mutex::new(Round {
                running: hosts,
                waiting: Vec::new(),
            }),
        }
    }

    /// Wait for the round this host joins, and its result in it.
    pub(super) async fn submit(&self, entry: HostEntry) -> Answer {
        let (tx, rx) = oneshot::channel();
        let host = entry.host.clone();
        let ready = {
            let mut round = self.state.lock().unwrap_or_else(|e| e.into_inner());
            round.waiting.push((entry, tx));
            round.take_if_complete()
        };
        if let Some(waiting) = ready {
            self.invoke(waiting).await;
        }
        rx.await
            .unwrap_or_else(|_| Err(format!("{host}: the Ansible invocation ended without a result")))
    }

    /// The host is done with the task; the others no longer wait for it.
    pub(super) async fn leave(&self) {
        let ready = {
            let mut round = self.state.lock().unwrap_or_else(|e| e.into_inner());
            round.running = round.running.saturating_sub(1);
            round.take_if_complete()
        };
        if let Some(waiting) = ready {
            self.invoke(waiting).await;
        }
    }

    async fn invoke(&self, waiting: Vec<(HostEntry, oneshot::Sender<Answer>)>) {
        let (entries, senders): (Vec<HostEntry>, Vec<_>) = waiting.into_iter().unzip();
        let invocation = Invocation {
            hosts: entries.clone(),
            ..self.task.clone()
        };
        let mut results = via_ansible::run(&invocation).await;
        for (entry, tx) in entries.iter().zip(senders) {
            let answer = results
                .remove(&entry.host)
                .unwrap_or_else(|| Err("Ansible reported nothing for this host".into()));
            let _ = tx.send(answer);
        }
    }
}

impl Round {
    /// Every host still running is waiting: the round starts (its hosts are taken).
    fn take_if_complete(&mut self) -> Option<Vec<(HostEntry, oneshot::Sender<Answer>)>> {
        (!self.waiting.is_empty() && self.waiting.len() >= self.running)
            .then(|| std::mem::take(&mut self.waiting))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(host: &str) -> (HostEntry, oneshot::Sender<Answer>) {
        let entry = HostEntry {
            host: host.into(),
            vars: Default::default(),
            no_log: false,
        };
        (entry, oneshot::channel().0)
    }

    #[test]
    fn a_round_starts_when_every_running_host_waits() {
        let mut round = Round {
            running: 3,
            waiting: Vec::new(),
        };
        round.waiting.push(entry("a"));
        assert!(round.take_if_complete().is_none());
        round.waiting.push(entry("b"));
        assert!(round.take_if_complete().is_none());
        // The third host skipped the task: it leaves, and the round starts without it.
        round.running -= 1;
        let hosts: Vec<String> = round
            .take_if_complete()
            .unwrap()
            .into_iter()
            .map(|(e, _)| e.host)
            .collect();
        assert_eq!(hosts, ["a", "b"]);
        assert!(round.waiting.is_empty());
        // Nobody waiting: leaving starts nothing.
        round.running = 0;
        assert!(round.take_if_complete().is_none());
    }
}
