//! Which servers this run took out of a load balancer and has not put back, as the load
//! balancer itself says. Before a task that talks to one (each module says so through
//! `lb_changes`: a `disable server B/S` through socat in a shell task, the `haproxy`
//! module), the servers it names are recorded as "may be out" (an event the journal keeps,
//! so `zdd status` can tell after a kill); after the task, whatever its result, and again
//! on the way out, zdd asks the load balancer for their state. A server is reported under
//! OUT OF ROTATION when it takes no traffic and took traffic when this run first touched it,
//! with the command that puts it back.

use super::Runner;
use crate::audit::{audited, CommandContext};
use crate::events::{Event, OutOfRotation, RotationState};
use crate::host::{Become, ConnectDefaults, RemoteCommand};
use crate::lb::{same_server, LbChange, LoadBalancer};
use indexmap::IndexMap;
use std::sync::Mutex;

/// A server some task talked to a load balancer about.
#[derive(Debug, Clone)]
struct Touched {
    report: OutOfRotation,
    /// Where and how its load balancer is asked: where the task ran, as whom.
    asker: Asker,
    /// It took traffic when this run first touched it (`None`: the load balancer could
    /// not be asked then).
    found_in: Option<bool>,
    /// What the last command meant to do to it.
    meant_out: bool,
    /// What the load balancer said last (`None`: not asked since the last command, or
    /// it did not answer).
    now_in: Option<bool>,
}

impl Touched {
    /// Out of rotation by this run's doing: the load balancer says so (or, when it cannot
    /// be asked, the last command meant it), and it was not out before this run.
    fn out_by_this_run(&self) -> bool {
        !self.now_in.unwrap_or(!self.meant_out) && self.found_in != Some(false)
    }
}

/// Where and how a group of servers' states are read.
#[derive(Debug, Clone)]
pub(super) struct Asker {
    /// The inventory host the asking is for (the audit log's `host`).
    host: String,
    target: String,
    lb: &'static dyn LoadBalancer,
    endpoint: String,
    connection: Option<String>,
    remote: ConnectDefaults,
    run_as: Option<Become>,
}

impl Asker {
    /// Asks the same load balancer as `other`.
    fn same_place(&self, other: &Asker) -> bool {
        self.target == other.target && self.endpoint == other.endpoint && self.lb == other.lb
    }
}

/// Where a task that talks to a load balancer runs: for which inventory host, on which
/// target (its delegate), over which connection, as whom.
pub(super) struct Site<'a> {
    pub host: &'a str,
    pub target: &'a str,
    pub connection: Option<&'a str>,
    pub remote: &'a ConnectDefaults,
    pub run_as: Option<&'a Become>,
}

impl Site<'_> {
    fn asker(&self, change: &LbChange) -> Asker {
        Asker {
            host: self.host.to_owned(),
            target: self.target.to_owned(),
            lb: change.lb,
            endpoint: change
                .endpoint
                .clone()
                .unwrap_or_else(|| change.lb.default_endpoint().to_owned()),
            connection: self.connection.map(str::to_owned),
            remote: self.remote.clone(),
            run_as: self.run_as.cloned(),
        }
    }

    /// One asker per load balancer `changes` talk to.
    fn askers(&self, changes: &[LbChange]) -> Vec<Asker> {
        distinct(changes.iter().map(|c| self.asker(c)))
    }
}

fn distinct(askers: impl Iterator<Item = Asker>) -> Vec<Asker> {
    let mut out: Vec<Asker> = Vec::new();
    for a in askers {
        if !out.iter().any(|b| b.same_place(&a)) {
            out.push(a);
        }
    }
    out
}

#[derive(Debug, Default)]
pub(super) struct RotationLedger {
    touched: Mutex<IndexMap<String, Touched>>,
}

fn key(target: &str, server: &str) -> String {
    format!("{target} {server}")
}

impl RotationLedger {
    fn lock(&self) -> std::sync::MutexGuard<'_, IndexMap<String, Touched>> {
        self.touched.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Where to ask about the servers of `changes` this run has not touched yet.
    fn unseen(&self, changes: &[LbChange], site: &Site) -> Vec<Asker> {
        let touched = self.lock();
        let new = changes
            .iter()
            .filter(|c| !touched.contains_key(&key(site.target, &c.server)));
        distinct(new.map(|c| site.asker(c)))
    }

    /// Record that a task is about to send `changes`; `found` is what the load balancer
    /// said of the servers before (for those seen for the first time). Returns the servers
    /// the task may take out.
    fn intend(&self, changes: &[LbChange], site: &Site, found: &[(String, bool)]) -> Vec<OutOfRotation> {
        let mut touched = self.lock();
        let mut may_be_out = Vec::new();
        for c in changes {
            // One call for many servers (`host: "{{ ansible_play_hosts }}"`, run once):
            // each server is its own host's, as HAProxy names servers after their hosts.
            let host = match changes.len() {
                1 => site.host,
                _ => c.server.rsplit('/').next().unwrap_or(&c.server),
            };
            let report = OutOfRotation {
                server: c.server.clone(),
                host: host.to_owned(),
                load_balancer: site.target.to_owned(),
                command: c.restore_command(),
            };
            let found_in = found
                .iter()
                .find(|(s, _)| same_server(&c.server, s))
                .map(|(_, i)| *i);
            let entry = touched
                .entry(key(site.target, &c.server))
                .or_insert_with(|| Touched {
                    report: report.clone(),
                    asker: site.asker(c),
                    found_in,
                    meant_out: false,
                    now_in: None,
                });
            entry.meant_out = c.action.takes_out();
            entry.now_in = None;
            if entry.meant_out {
                entry.report = report.clone();
                may_be_out.push(report);
            }
        }
        may_be_out
    }

    /// What the load balancer at `asker` says now, for the servers touched there. Returns
    /// the servers whose state is news: asked for the first time since a command, or changed
    /// since it was last told. (Not every touched server each time: a 1000-host run through
    /// one load balancer asks 2000 times, and each event rewrites the journal.)
    fn observe(&self, asker: &Asker, states: &[(String, bool)]) -> Vec<(OutOfRotation, RotationState)> {
        let mut touched = self.lock();
        let mut told = Vec::new();
        for t in touched.values_mut().filter(|t| t.asker.same_place(asker)) {
            let Some(in_rotation) = states
                .iter()
                .find(|(s, _)| same_server(&t.report.server, s))
                .map(|(_, i)| *i)
            else {
                continue;
            };
            if t.now_in.replace(in_rotation) == Some(in_rotation) {
                continue;
            }
            let state = if in_rotation {
                RotationState::Back
            } else {
                RotationState::Out
            };
            told.push((t.report.clone(), state));
        }
        told
    }

    /// Every place a touched server's state can be read, once each.
    fn askers(&self) -> Vec<Asker> {
        distinct(self.lock().values().map(|t| t.asker.clone()))
    }

    pub(super) fn out_of_rotation(&self) -> Vec<OutOfRotation> {
        let touched = self.lock();
        touched
            .values()
            .filter(|t| t.out_by_this_run())
            .map(|t| t.report.clone())
            .collect()
    }
}

impl Runner {
    /// Before a task that talks to a load balancer: learn how it found the servers this run
    /// has not touched yet, and record the ones the task may take out (the journal writes
    /// them before the command is sent).
    pub(super) async fn before_lb_task(&self, changes: &[LbChange], site: &Site<'_>) {
        let mut found = Vec::new();
        for asker in self.rotation.unseen(changes, site) {
            found.extend(self.lb_states(&asker).await.unwrap_or_default());
        }
        for server in self.rotation.intend(changes, site, &found) {
            self.events.emit(Event::Rotation {
                server,
                state: RotationState::MayBeOut,
            });
        }
    }

    /// After a task that talked to a load balancer, whatever its result: what the load
    /// balancer says now of the servers touched there.
    pub(super) async fn after_lb_task(&self, changes: &[LbChange], site: &Site<'_>) {
        for asker in site.askers(changes) {
            self.observe_rotation(&asker).await;
        }
    }

    /// On the way out: ask every load balancer this run touched once more.
    pub(super) async fn final_rotation_check(&self) {
        for asker in self.rotation.askers() {
            self.observe_rotation(&asker).await;
        }
    }

    async fn observe_rotation(&self, asker: &Asker) {
        let Some(states) = self.lb_states(asker).await else {
            return;
        };
        for (server, state) in self.rotation.observe(asker, &states) {
            self.events.emit(Event::Rotation { server, state });
        }
    }

    /// Every server's state as the load balancer at `asker` says; `None` when it cannot
    /// be asked (the connection or the socket is gone).
    async fn lb_states(&self, asker: &Asker) -> Option<Vec<(String, bool)>> {
        let host = self
            .connect(&asker.target, asker.connection.as_deref(), &asker.remote)
            .await
            .ok()?;
        let delegate = (asker.target != asker.host).then_some(asker.target.as_str());
        let about = CommandContext::new(&asker.host, delegate, &rotation_task(asker.lb), false);
        let host = audited(self.opts.audit.as_ref(), host, about);
        let cmd = RemoteCommand::new(asker.lb.state_script(&asker.endpoint)).run_as(asker.run_as.clone());
        let out = host.run(&cmd).await.ok()?;
        (out.rc == 0).then(|| asker.lb.servers_in_rotation(&out.stdout))
    }
}

/// How the audit log names zdd's own look at a load balancer.
pub fn rotation_task(lb: &dyn LoadBalancer) -> String {
    format!("rotation: {} servers' state", lb.name())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::lb::{changes_in_command, Action, HAPROXY};

    fn change(server: &str, action: Action) -> LbChange {
        LbChange {
            lb: &HAPROXY,
            server: server.into(),
            action,
            endpoint: Some("/s".into()),
        }
    }

    fn asker() -> Asker {
        Asker {
            host: "web1".into(),
            target: "lb1".into(),
            lb: &HAPROXY,
            endpoint: "/s".into(),
            connection: None,
            remote: ConnectDefaults::default(),
            run_as: None,
        }
    }

    static NO_REMOTE: ConnectDefaults = ConnectDefaults {
        user: None,
        port: None,
    };

    fn site(host: &str) -> Site<'_> {
        Site {
            host,
            target: "lb1",
            connection: None,
            remote: &NO_REMOTE,
            run_as: None,
        }
    }

    fn states(list: &[(&str, bool)]) -> Vec<(String, bool)> {
        list.iter().map(|(s, i)| (s.to_string(), *i)).collect()
    }

    #[test]
    fn what_the_load_balancer_says_decides_not_what_the_task_meant() {
        let ledger = RotationLedger::default();
        let found = states(&[("lb/web1", true), ("lb/web2", true), ("lb/web3", false)]);
        let may = ledger.intend(
            &[
                change("lb/web1", Action::Disable),
                change("lb/web2", Action::Drain),
                change("lb/web3", Action::Disable),
            ],
            &site("web1"),
            &found,
        );
        assert_eq!(may.len(), 3, "recorded before the command is sent");
        // The task failed half way: web1 went out, web2 never did.
        let told = ledger.observe(
            &asker(),
            &states(&[("lb/web1", false), ("lb/web2", true), ("lb/web3", false)]),
        );
        assert_eq!(told.len(), 3);
        let out: Vec<String> = ledger.out_of_rotation().into_iter().map(|o| o.server).collect();
        assert_eq!(
            out,
            ["lb/web1"],
            "web3 was out before this run: not ours to report"
        );
        // Put back: nothing left.
        ledger.intend(
            &changes_in_command("echo 'enable server lb/web1' | socat stdio /s"),
            &site("web1"),
            &[],
        );
        let told = ledger.observe(
            &asker(),
            &states(&[("lb/web1", true), ("lb/web2", true), ("lb/web3", false)]),
        );
        assert!(ledger.out_of_rotation().is_empty());
        // Only web1 is news: the others were told already and have not changed.
        let told: Vec<_> = told.iter().map(|(o, s)| (o.server.as_str(), *s)).collect();
        assert_eq!(told, [("lb/web1", RotationState::Back)]);
        assert!(ledger.observe(&asker(), &states(&[("lb/web1", true)])).is_empty());
        let told = ledger.observe(&asker(), &states(&[("lb/web2", false)]));
        assert_eq!(told.len(), 1, "a change is news");
    }

    #[test]
    fn a_command_that_only_looks_like_a_disable_is_not_reported() {
        let ledger = RotationLedger::default();
        // Not sent anywhere: only asking the load balancer can tell.
        let printf = changes_in_command("printf 'disable server lb/web2\\n'");
        ledger.intend(&printf, &site("web2"), &states(&[("lb/web2", true)]));
        assert_eq!(ledger.out_of_rotation().len(), 1, "until asked, it may be out");
        // No socat: the change names HAProxy's default socket, asked there.
        let default = Asker {
            endpoint: HAPROXY.default_endpoint().into(),
            ..asker()
        };
        assert_eq!(ledger.askers().len(), 1);
        assert_eq!(ledger.askers()[0].endpoint, default.endpoint);
        ledger.observe(&default, &states(&[("lb/web2", true)]));
        assert!(ledger.out_of_rotation().is_empty());
    }

    #[test]
    fn a_load_balancer_that_cannot_be_asked_leaves_what_the_command_meant() {
        let ledger = RotationLedger::default();
        ledger.intend(&[change("lb/web1", Action::Disable)], &site("web1"), &[]);
        let out = ledger.out_of_rotation();
        assert_eq!(out.len(), 1);
        assert_eq!(out[0].command, "echo \"enable server lb/web1\" | socat stdio /s");
        assert_eq!(ledger.askers().len(), 1);
        assert!(ledger
            .unseen(&[change("lb/web1", Action::Enable)], &site("web1"))
            .is_empty());
    }
}
