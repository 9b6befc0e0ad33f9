//! Preflight, before the first batch: reach every host and every delegate (`--forks` at a
//! time), check that sudo works wherever `become` is used, and that every load balancer
//! endpoint the playbook names (an HAProxy socket) answers. Anything wrong stops the run
//! here, having changed nothing. Above `--max-connections`, hosts of later batches are
//! disconnected once checked (see `window`).

use super::{PlayEnv, Runner};
use crate::error::{Diagnostic, Error};
use crate::events::{Event, HostProblem};
use crate::host::{is_wrong_password, Become, ConnectDefaults, ConnectSpec, Held, HostError, RemoteCommand};
use crate::lb::Endpoint;
use crate::modules::registry;
use crate::playbook::Task;
use crate::vars::{Context, VarMap};
use indexmap::{IndexMap, IndexSet};
use serde_json::Value;
use std::sync::Arc;
use std::time::Instant;

/// One host's part of preflight: its connections and checks.
struct Unit {
    host: String,
    specs: Vec<ConnectSpec>,
    /// Disconnect it once checked (`--max-connections`: it runs in a later batch).
    close: bool,
}

struct UnitOutcome {
    host: String,
    unreachable: Option<String>,
    failures: Vec<(String, String)>,
}

/// What preflight will check, worked out without touching anything.
#[derive(Debug, Default)]
struct Plan {
    /// Every host and delegate to connect to, with the `remote_user`/`port` a task reaches
    /// it with (each a connection of its own), in first-use order.
    hosts: IndexSet<(String, ConnectDefaults)>,
    /// (host, how, become): sudo (or su) must work, with the become password if one is
    /// given, without one otherwise.
    sudo: IndexSet<(String, ConnectDefaults, Become)>,
    /// (host, how, endpoint, become): the load balancer must answer there.
    sockets: IndexSet<(String, ConnectDefaults, Endpoint, Option<Become>)>,
    /// Hosts tasks are delegated to (they stay connected for the whole run).
    delegates: IndexSet<String>,
    /// Become settings zdd cannot follow (a method it does not know, su with a password),
    /// found before connecting: (host, why).
    refused: IndexSet<(String, String)>,
}

impl Runner {
    /// Returns the rollout locks it took on the load balancers' hosts (held until dropped).
    pub(super) async fn preflight(&self, play_hosts: &[Vec<String>]) -> Result<Vec<Held>, Error> {
        let started = Instant::now();
        let plan = self.preflight_plan(play_hosts);
        let mut specs = Vec::new();
        let mut problems: Vec<Diagnostic> = plan
            .refused
            .iter()
            .map(|(host, why)| Diagnostic::new(format!("host `{host}`: {why}")))
            .collect();
        for (name, remote) in &plan.hosts {
            match self.spec_for(name) {
                Ok(spec) if !spec.local => {
                    let spec = self.reach(spec, remote);
                    if !specs.contains(&spec) {
                        specs.push(spec);
                    }
                }
                Ok(_) => {}
                Err(e) => problems.push(e),
            }
        }
        if !problems.is_empty() {
            return Err(Error::Invalid(problems));
        }
        let units = self.set_window(&plan, specs);
        // Hosts closed after their checks go first, at most `--max-connections` (and
        // `--forks`) at a time; those kept open after them, `--forks` at a time.
        let forks = self.opts.forks.max(1);
        let (closed, kept): (Vec<Unit>, Vec<Unit>) = units.into_iter().partition(|u| u.close);
        let limit = match self.opts.max_connections {
            0 => forks,
            n => forks.min(n),
        };
        let mut outcomes = self.check_units(&plan, closed, limit).await;
        outcomes.extend(self.check_units(&plan, kept, forks).await);
        if self.opts.no_preflight {
            // Unreachable hosts are then found by their first task, as in Ansible.
            return Ok(Vec::new());
        }
        let mut unreachable: IndexMap<String, String> = IndexMap::new();
        let mut failures: Vec<(String, String)> = Vec::new();
        for outcome in outcomes {
            if let Some(why) = outcome.unreachable {
                unreachable.entry(outcome.host).or_insert(why);
            } else {
                failures.extend(outcome.failures);
            }
        }
        if !unreachable.is_empty() {
            self.events.emit(Event::PreflightFailed {
                unreachable: unreachable.clone(),
                problems: Vec::new(),
            });
            return Err(Error::Unreachable(unreachable.into_iter().collect()));
        }
        if !failures.is_empty() {
            self.events.emit(Event::PreflightFailed {
                unreachable: IndexMap::new(),
                problems: failures
                    .iter()
                    .map(|(host, message)| HostProblem {
                        host: host.clone(),
                        message: message.clone(),
                    })
                    .collect(),
            });
            return Err(Error::Preflight(failures));
        }
        let locks = self.lock_load_balancers(&plan).await?;
        self.events.emit(Event::Preflight {
            hosts: plan.hosts.iter().map(|(h, _)| h).collect::<IndexSet<_>>().len(),
            sudo_checked: plan.sudo.iter().map(|(h, _, _)| h).collect::<IndexSet<_>>().len(),
            sockets: plan
                .sockets
                .iter()
                .filter(|(_, _, e, _)| e.lb == &crate::lb::HAPROXY as &dyn crate::lb::LoadBalancer)
                .map(|(h, _, e, _)| format!("{h}:{}", e.address))
                .collect::<IndexSet<_>>()
                .into_iter()
                .collect(),
            other_load_balancers: plan
                .sockets
                .iter()
                .filter(|(_, _, e, _)| e.lb != &crate::lb::HAPROXY as &dyn crate::lb::LoadBalancer)
                .map(|(h, _, e, _)| format!("{} at {h}:{}", e.lb.name(), e.address))
                .collect::<IndexSet<_>>()
                .into_iter()
                .collect(),
            duration_ms: started.elapsed().as_millis() as u64,
        });
        Ok(locks)
    }

    /// Split preflight's work by host and decide which hosts stay connected after it
    /// (all of them, unless the run has more masters than `--max-connections`).
    fn set_window(&self, plan: &Plan, specs: Vec<ConnectSpec>) -> Vec<Unit> {
        let mut by_host: IndexMap<String, Vec<ConnectSpec>> = IndexMap::new();
        for spec in &specs {
            by_host.entry(spec.name.clone()).or_default().push(spec.clone());
        }
        let limit = self.opts.max_connections;
        let mut window = self.window();
        window.active = limit > 0 && specs.len() > limit;
        window.pinned = plan.delegates.iter().cloned().collect();
        window
            .pinned
            .extend(plan.sockets.iter().map(|(h, _, _, _)| h.clone()));
        window.plays = self.planned_batches_to_run();
        let kept = window.kept_after_preflight();
        let active = window.active;
        if active {
            tracing::debug!(
                target: "zdd::ssh",
                "{} masters for --max-connections {limit}: keeping {} open after preflight",
                specs.len(),
                by_host.keys().filter(|h| kept.contains(*h)).count()
            );
        }
        window.specs = by_host.clone();
        drop(window);
        let mut units: IndexMap<String, Unit> = by_host
            .into_iter()
            .map(|(host, specs)| {
                let close = active && !kept.contains(&host);
                (host.clone(), Unit { host, specs, close })
            })
            .collect();
        // Checks on hosts reached without SSH (a load balancer's API from here).
        let local = plan
            .sudo
            .iter()
            .map(|(h, _, _)| h)
            .chain(plan.sockets.iter().map(|(h, _, _, _)| h));
        for host in local {
            if !units.contains_key(host) {
                let unit = Unit {
                    host: host.clone(),
                    specs: Vec::new(),
                    close: false,
                };
                units.insert(host.clone(), unit);
            }
        }
        units.into_values().collect()
    }

    /// Connect to each unit's host and run its checks, `at_once` hosts at a time; a unit
    /// marked `close` is disconnected once checked.
    async fn check_units(&self, plan: &Plan, units: Vec<Unit>, at_once: usize) -> Vec<UnitOutcome> {
        let turns = tokio::sync::Semaphore::new(at_once.max(1));
        let checks = units.into_iter().map(|unit| {
            let turns = &turns;
            async move {
                let _turn = turns.acquire().await;
                let outcome = self.check_unit(plan, &unit).await;
                if unit.close {
                    for spec in &unit.specs {
                        self.conns.close(spec).await;
                    }
                }
                outcome
            }
        });
        futures::future::join_all(checks).await
    }

    async fn check_unit(&self, plan: &Plan, unit: &Unit) -> UnitOutcome {
        let mut outcome = UnitOutcome {
            host: unit.host.clone(),
            unreachable: None,
            failures: Vec::new(),
        };
        for spec in &unit.specs {
            if let Err(e) = self.conns.get(spec).await {
                outcome.unreachable = Some(e.to_string());
                return outcome;
            }
        }
        if self.opts.no_preflight {
            return outcome;
        }
        let sudo = plan
            .sudo
            .iter()
            .filter(|(host, _, _)| *host == unit.host)
            .map(|(host, remote, run_as)| self.check_sudo(host, remote, run_as));
        let sockets = plan
            .sockets
            .iter()
            .filter(|(host, _, _, _)| *host == unit.host)
            .map(|(host, remote, endpoint, run_as)| {
                self.check_socket(host, remote, endpoint, run_as.as_ref())
            });
        let (sudo, sockets) = futures::future::join(
            futures::future::join_all(sudo),
            futures::future::join_all(sockets),
        )
        .await;
        outcome.failures = sudo.into_iter().chain(sockets).flatten().collect();
        outcome
    }

    /// Take zdd's rollout lock on every load balancer the playbook talks to, held for the
    /// run: a second zdd (from another controller or inventory) that would change the same
    /// load balancer is refused here, before it changes anything, naming the holder.
    async fn lock_load_balancers(&self, plan: &Plan) -> Result<Vec<Held>, Error> {
        let mut places: Vec<(&String, &ConnectDefaults, &Endpoint)> = Vec::new();
        for (host, remote, endpoint, _) in &plan.sockets {
            if !places.iter().any(|(h, _, e)| *h == host && *e == endpoint) {
                places.push((host, remote, endpoint));
            }
        }
        let holder = format!(
            "{}, started {}, playbook {}",
            crate::lb::this_process(),
            crate::journal::utc_timestamp(std::time::SystemTime::now()),
            self.playbook.path.display()
        );
        let holder = &holder;
        let takes = places.iter().map(|&(host, remote, endpoint)| async move {
            let script = crate::lb::lock_script(endpoint.lb, &endpoint.address, holder);
            let held = match self.connect(host, None, remote).await {
                Ok(h) => h.hold(&RemoteCommand::new(script)).await,
                Err(e) => Err(e),
            };
            (host, endpoint, held)
        });
        let mut locks = Vec::new();
        let mut busy = Vec::new();
        for (host, endpoint, held) in futures::future::join_all(takes).await {
            let at = format!("{} at {host}:{}", endpoint.lb.name(), endpoint.address);
            match held {
                Ok((line, guard)) if line == "locked" => locks.push(guard),
                Ok((line, _)) if line.starts_with("unsupported: ") => self.events.emit(Event::Warning {
                    message: format!("no rollout lock on {at}: {}", &line["unsupported: ".len()..]),
                }),
                Ok((line, _)) => busy.push(match line.strip_prefix("busy: ") {
                    Some(holder) => Diagnostic::new(format!(
                        "another rollout is changing {at}: {holder}"
                    ))
                    .hint("wait for it to finish, or stop it; two rollouts through one load balancer would re-enable servers the other is upgrading"),
                    None => Diagnostic::new(format!("cannot take the rollout lock on {at}: {line}")),
                }),
                Err(e) => busy.push(Diagnostic::new(format!("cannot take the rollout lock on {at}: {e}"))),
            }
        }
        if busy.is_empty() {
            Ok(locks)
        } else {
            Err(Error::Invalid(busy))
        }
    }

    /// Which hosts, sudo rights and sockets the playbook will use, from its static parts.
    /// What cannot be known before the run (a delegate computed from a registered result)
    /// is left to the run itself.
    fn preflight_plan(&self, play_hosts: &[Vec<String>]) -> Plan {
        let mut plan = Plan::default();
        for (play, hosts) in self.playbook.plays.iter().zip(play_hosts) {
            if hosts.is_empty() {
                continue;
            }
            let local_play = play.connection.as_deref() == Some("local");
            let env = self.play_env(play, hosts.clone());
            let shared = self.shared_vars(&env, hosts);
            // Each host as the play reaches it (its `remote_user`/`port`), even if no task
            // runs there; with those keywords and no fact gathering, only as tasks reach it.
            let play_task = super::gather_facts_task(play);
            let play_keywords = play.run.remote_user.is_some() || play.run.port.is_some();
            for host in hosts
                .iter()
                .filter(|_| !local_play && (play.gather_facts || !play_keywords))
            {
                let ctx = self.context(&env, host, &play_task, &shared);
                if let Ok(remote) = self.remote_for(&play_task, &ctx) {
                    plan.hosts.insert((host.clone(), remote));
                }
            }
            let flatten = crate::playbook::flatten;
            let tasks = flatten(&play.pre_tasks)
                .into_iter()
                .chain(flatten(&play.tasks))
                .chain(flatten(&play.post_tasks))
                .chain(flatten(&play.handlers));
            for task in tasks {
                let on_controller = registry().get(&task.module).is_none_or(|m| m.controller_only());
                if on_controller {
                    continue;
                }
                let local = local_play || task.connection.as_deref() == Some("local");
                for host in hosts {
                    self.plan_task(&env, task, host, local, &shared, &mut plan);
                }
            }
        }
        plan
    }

    /// A task that runs on this machine (`connection: local`, a delegate to localhost) is
    /// not connected to, but a load balancer it talks to (an API reached over the
    /// network) must answer from here.
    fn plan_task(
        &self,
        env: &PlayEnv<'_>,
        task: &Task,
        host: &str,
        local: bool,
        shared: &Arc<VarMap>,
        plan: &mut Plan,
    ) {
        let ctx = self.context(env, host, task, shared);
        let run_as = self.become_for(env, task, &ctx);
        for (item_ctx, remote, target) in self.static_item_sites(task, &ctx, host) {
            if local || self.spec_for(&target).is_ok_and(|s| s.local) {
                let here = if local { "localhost".to_owned() } else { target };
                for endpoint in self.endpoints_named(task, &item_ctx) {
                    plan.sockets
                        .insert((here.clone(), remote.clone(), endpoint, run_as.clone()));
                }
                continue;
            }
            if let Some(b) = &run_as {
                if let Some(why) = crate::host::become_problem(b) {
                    plan.refused.insert((target.clone(), why));
                    continue;
                }
                plan.sudo.insert((target.clone(), remote.clone(), b.clone()));
            }
            for endpoint in self.endpoints_named(task, &item_ctx) {
                plan.sockets
                    .insert((target.clone(), remote.clone(), endpoint, run_as.clone()));
            }
            if target != host {
                plan.delegates.insert(target.clone());
            }
            plan.hosts.insert((target, remote));
        }
    }

    /// Each context a task runs in (`static_item_contexts`) with the remote user and the
    /// host it runs on (its delegate, else `host`). Left out: an item whose `remote_user`
    /// or `delegate_to` is decided at run time (it reads a registered result, say).
    pub(super) fn static_item_sites(
        &self,
        task: &Task,
        ctx: &Context,
        host: &str,
    ) -> Vec<(Context, ConnectDefaults, String)> {
        self.static_item_contexts(task, ctx)
            .into_iter()
            .filter_map(|item_ctx| {
                let remote = self.remote_for(task, &item_ctx).ok()?;
                let target = match self.delegate_in(task, &item_ctx) {
                    Some(Ok(name)) => name,
                    Some(Err(_)) => return None,
                    None => host.to_owned(),
                };
                Some((item_ctx, remote, target))
            })
            .collect()
    }

    /// The contexts a task runs in: one per loop item, or just one. Empty when the items
    /// cannot be known before the run.
    pub(super) fn static_item_contexts(&self, task: &Task, ctx: &Context) -> Vec<Context> {
        match &task.loop_ {
            None => vec![ctx.clone()],
            Some(lp) => match super::task::loop_items(&self.templater, lp, ctx) {
                Ok(items) => items
                    .into_iter()
                    .map(|item| ctx.with_var(&task.loop_control.loop_var, item))
                    .collect(),
                Err(_) => Vec::new(),
            },
        }
    }

    /// Load balancer endpoints a task talks to, as its module says (the `haproxy` module's
    /// `socket`, a `socat` address in a shell command). Arguments are rendered one by one:
    /// one that cannot be rendered yet is left out, the others still count.
    fn endpoints_named(&self, task: &Task, ctx: &Context) -> Vec<Endpoint> {
        let (Some(module), Value::Object(raw)) = (registry().get(&task.module), &task.args) else {
            return Vec::new();
        };
        let rendered: serde_json::Map<String, Value> = raw
            .iter()
            .filter_map(|(k, v)| Some((k.clone(), self.templater.render_value(v, ctx).ok()?)))
            .collect();
        module.lb_endpoints(&Value::Object(rendered))
    }

    /// The connection a check uses, written to the audit log like any task's.
    fn preflight_host(
        &self,
        h: Arc<dyn crate::host::Host>,
        host: &str,
        check: &str,
    ) -> Arc<dyn crate::host::Host> {
        let about = crate::audit::CommandContext::new(host, None, check, false);
        crate::audit::audited(self.opts.audit.as_ref(), h, about)
    }

    /// Become works on `host` as `run_as` says. A wrong become password is told apart
    /// (sudo's own words would say "3 incorrect password attempts"); the password itself
    /// is never part of a message.
    async fn check_sudo(
        &self,
        host: &str,
        remote: &ConnectDefaults,
        run_as: &Become,
    ) -> Option<(String, String)> {
        let cmd = match (&run_as.password, run_as.method.as_str()) {
            // The login user's script runs sudo itself with nothing but the password on
            // its standard input: a wrong one ends at sudo's second try (end of input),
            // about 2 s, instead of three tries over the pad lines a task's command has.
            (Some(password), "sudo") => RemoteCommand::new(format!(
                "sudo -S -p '' -H -u {} -- true",
                crate::host::sh_quote(&run_as.user)
            ))
            .stdin(format!("{}\n", password.expose()).into_bytes()),
            _ => RemoteCommand::new("true").run_as(Some(run_as.clone())),
        };
        let how = match (run_as.method.as_str(), &run_as.password) {
            ("su", _) => format!("su {}", run_as.user),
            (_, Some(_)) => format!("sudo -S -u {} (with the become password)", run_as.user),
            (_, None) => format!("sudo -n -u {}", run_as.user),
        };
        let check = format!("preflight: {}", run_as.method);
        let failure = match self.connect(host, None, remote).await {
            Err(e) => Some(e.to_string()),
            Ok(h) => match self.preflight_host(h, host, &check).run(&cmd).await {
                Ok(out) if out.rc == 0 => None,
                Ok(out) if is_wrong_password(&out.stderr) => Some(format!(
                    "become password rejected by sudo for user {}",
                    run_as.user
                )),
                Ok(out) => Some(format!("{how} failed: {}", out.stderr.trim())),
                Err(HostError::Become(why)) if is_wrong_password(&why) => Some(format!(
                    "become password rejected by sudo for user {}",
                    run_as.user
                )),
                Err(e) if e.to_string().contains("a password is required") => Some(format!(
                    "{how} failed: {e} (pass -K to be asked for the become password, or set ansible_become_password)"
                )),
                Err(e) => Some(format!("{how} failed: {e}")),
            },
        };
        failure.map(|why| (host.to_owned(), why))
    }

    async fn check_socket(
        &self,
        host: &str,
        remote: &ConnectDefaults,
        endpoint: &Endpoint,
        run_as: Option<&Become>,
    ) -> Option<(String, String)> {
        let run_as = run_as.cloned();
        let cmd = RemoteCommand::new(endpoint.lb.check_script(&endpoint.address)).run_as(run_as);
        let check = format!(
            "preflight: {} {}",
            endpoint.lb.name(),
            endpoint.lb.endpoint_kind()
        );
        let failure = match self.connect(host, None, remote).await {
            Err(e) => Some(e.to_string()),
            Ok(h) => match self.preflight_host(h, host, &check).run(&cmd).await {
                Ok(out) if out.rc == 0 => None,
                Ok(out) => Some(out.stderr.trim().to_owned()),
                Err(e) => Some(e.to_string()),
            },
        };
        failure.map(|why| (host.to_owned(), why))
    }
}
