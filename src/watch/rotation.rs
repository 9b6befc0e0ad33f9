//! One inventory host taken out of its load balancer and put back, through the
//! `LoadBalancer` trait, at the place the playbook's own rotation tasks name (the load
//! balancer, its endpoint, the server's name there and the host the commands run on).
//!
//! The places come from the playbook, rendered for the host as preflight renders them
//! (`Runner::rotation_sites`): the tasks that take a server out (a `haproxy` task with
//! `state: disabled`, a shell `socat` with `disable server`), their `delegate_to` and loop
//! items, their `become`, the `haproxy` module's `min_up` and drain. The commands run over
//! zdd's own connections to the task's delegate, as the task would, through the audit log;
//! what the load balancer says before and after decides (a command is confirmed by
//! reading the servers' states again). Each change is an `Event::Rotation`, the same the
//! runner emits around a rotation task, so the journal knows a server may be out and
//! `zdd status` can report it after a kill.
//!
//! Limits: a task whose arguments, items or delegate need what only the run knows (a
//! registered result, a gathered fact, a group made by `add_host`, as in
//! `playbooks/cloud-lb-drain.yml`'s second play) names no place, nor does a task in a
//! dynamic `include_tasks`; its `when` is not evaluated. A `haproxy` task without `backend`
//! names `*/server`: `take_out` finds the backend, and its events carry the server as
//! HAProxy lists it, but `Place::restore_command` still says `*/server`. Before a take-out,
//! zdd's rollout lock on the load balancer is looked at (not taken): a rollout from another
//! controller holding it makes `take_out` an error, this process's own runs do not.

use crate::events::{Event, EventSink, OutOfRotation, RotationState};
use crate::lb::{same_server, Action, LoadBalancer, ServerState};
use crate::load::Input;
use crate::plan::RolloutPlan;
use crate::runner::{RotationSite, RunOptions, Runner, StopSignal};
use crate::template::Templater;
use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// Where one inventory host sits in one load balancer.
#[derive(Debug, Clone)]
pub struct Place {
    /// The inventory host served by the server.
    pub host: String,
    pub lb: &'static dyn LoadBalancer,
    /// The endpoint the playbook's task talks to (a socket path, `TCP:host:port`).
    pub endpoint: String,
    /// The server as the load balancer names it (`backend/server` for HAProxy).
    pub server: String,
    /// The inventory host the commands run on (the task's `delegate_to`, else `host`).
    pub via: String,
    /// Fewer servers than this left in rotation: refuse to take one out.
    pub min_up: usize,
}

impl Place {
    /// The shell command an operator runs to put it back.
    pub fn restore_command(&self) -> String {
        self.lb.restore_command(&self.server, Some(&self.endpoint))
    }

    /// "HAProxy loadbalancer/web3 at /tmp/x/haproxy.sock" (on `via` when that is another host).
    pub fn describe(&self) -> String {
        let on = match self.via == self.host {
            true => String::new(),
            false => format!(" on {}", self.via),
        };
        format!("{} {} at {}{on}", self.lb.name(), self.server, self.endpoint)
    }
}

/// What `take_out` did.
#[derive(Debug, Clone, PartialEq)]
pub enum TakeOut {
    /// It took traffic and now takes none.
    Done,
    /// It already took no traffic (disabled or draining).
    AlreadyOut,
    /// Not taken out: the capacity guard (why, for the event).
    Refused(String),
}

/// How long a state read or a single runtime-API command may take.
const COMMAND_TIMEOUT: Duration = Duration::from_secs(20);
/// How often a drain and `put_back`'s wait read the servers' states.
const POLL: Duration = Duration::from_millis(200);

/// Connections and rendering for rotation commands, built from the same input and options
/// as a run.
pub struct Rotation {
    runner: Runner,
    /// What `places` found, by host: how to reach each place.
    sites: Mutex<HashMap<String, Vec<RotationSite>>>,
    /// A drain never takes longer than this, whatever the task says.
    drain_limit: Duration,
    /// How long `put_back` waits for the load balancer to see the server serve.
    serve_wait: Duration,
}

impl Rotation {
    pub fn new(
        input: &Input,
        templater: Arc<Templater>,
        opts: &RunOptions,
        events: Arc<EventSink>,
    ) -> Rotation {
        let input = Input {
            playbook: input.playbook.clone(),
            inventory: input.inventory.clone(),
            inventory_sources: input.inventory_sources.clone(),
            extra_vars: input.extra_vars.clone(),
            config: input.config,
            settings: input.settings.clone(),
        };
        // The plays' hosts are worked out per host by `places`; the plan is not used.
        let plan = RolloutPlan {
            plays: Vec::new(),
            limit: None,
            seed: 0,
        };
        let stop = Arc::new(StopSignal::default());
        Rotation {
            runner: Runner::new(input, plan, templater, events, opts.clone(), stop),
            sites: Mutex::new(HashMap::new()),
            drain_limit: Duration::from_secs(60),
            serve_wait: Duration::from_secs(15),
        }
    }

    /// A drain (when the playbook's task drains) gives up waiting for the sessions after
    /// this long and disables the server anyway (default 60 s).
    pub fn with_drain_limit(mut self, limit: Duration) -> Rotation {
        self.drain_limit = limit;
        self
    }

    /// How long `put_back` waits for the load balancer to see the server pass a health
    /// check (default 15 s); past it, the server is in rotation and a warning says so.
    pub fn with_serve_wait(mut self, wait: Duration) -> Rotation {
        self.serve_wait = wait;
        self
    }

    /// The places the playbook's rotation tasks name for `host` (rendered for it, no
    /// connection): empty when no task of a play that runs on `host` takes it out.
    pub fn places(&self, host: &str) -> Vec<Place> {
        let sites = self.runner.rotation_sites(host);
        let places = sites.iter().map(place_of).collect();
        self.lock().insert(host.to_owned(), sites);
        places
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<String, Vec<RotationSite>>> {
        self.sites.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// How to reach `place`: as `places` found it; a place made by hand is reached with
    /// the inventory's connection settings, without `become`.
    fn site(&self, place: &Place) -> RotationSite {
        let same = |s: &RotationSite| {
            s.lb == place.lb && s.via == place.via && s.endpoint == place.endpoint && s.server == place.server
        };
        if let Some(site) = self
            .lock()
            .get(&place.host)
            .and_then(|v| v.iter().find(|s| same(s)).cloned())
        {
            return site;
        }
        let found = self.runner.rotation_sites(&place.host);
        let site = found.iter().find(|s| same(s)).cloned();
        self.lock().insert(place.host.clone(), found);
        let mut site = site.unwrap_or_else(|| RotationSite {
            host: place.host.clone(),
            lb: place.lb,
            endpoint: place.endpoint.clone(),
            server: place.server.clone(),
            via: place.via.clone(),
            connection: None,
            remote: Default::default(),
            run_as: None,
            min_up: place.min_up,
            drain: None,
        });
        site.min_up = place.min_up;
        site
    }

    /// Every server's state as the load balancer at `site` says.
    async fn states(&self, site: &RotationSite) -> Result<Vec<ServerState>, String> {
        let task = format!("rotation: {} servers' state", site.lb.name());
        let out = self
            .runner
            .rotation_command(site, &task, site.lb.state_script(&site.endpoint), COMMAND_TIMEOUT)
            .await?;
        let at = at(site);
        if out.rc != 0 {
            return Err(format!(
                "cannot read the servers of {at}: {}",
                first_words(&out.stderr, &out.stdout)
            ));
        }
        let states = site.lb.server_states(&out.stdout);
        if states.is_empty() {
            return Err(format!(
                "{at} lists no server: {}",
                first_words(&out.stdout, &out.stderr)
            ));
        }
        Ok(states)
    }

    /// Send `action` for `server` (as the load balancer lists it).
    async fn send(&self, site: &RotationSite, action: Action, server: &str) -> Result<(), String> {
        let script = site
            .lb
            .action_script(&site.endpoint, action, server)
            .ok_or_else(|| {
                format!(
                    "{} has no per-server action: zdd cannot take {} out of it",
                    site.lb.name(),
                    site.host
                )
            })?;
        let task = format!("rotation: {}", site.lb.command(action, server));
        let out = self
            .runner
            .rotation_command(site, &task, script, COMMAND_TIMEOUT)
            .await?;
        match out.rc {
            0 => Ok(()),
            _ => Err(format!(
                "{} refused `{}`: {}",
                at(site),
                site.lb.command(action, server),
                first_words(&out.stderr, &out.stdout)
            )),
        }
    }

    /// Who else holds zdd's rollout lock on the load balancer of `site` (a rollout from
    /// another controller going through it), if anyone: this process's own runs (the
    /// redeploy that just ended) do not count. Looked at as preflight takes it: without
    /// `become`.
    async fn other_rollout(&self, site: &RotationSite) -> Result<Option<String>, String> {
        let asker = RotationSite {
            run_as: None,
            ..site.clone()
        };
        let script = crate::lb::lock_probe_script(site.lb, &site.endpoint);
        let task = format!("rotation: {} rollout lock", site.lb.name());
        let out = self
            .runner
            .rotation_command(&asker, &task, script, COMMAND_TIMEOUT)
            .await?;
        let line = out.stdout.lines().next().unwrap_or_default();
        let Some(holder) = line.strip_prefix("busy: ") else {
            return Ok(None);
        };
        let hostname = std::fs::read_to_string("/proc/sys/kernel/hostname").unwrap_or_default();
        let ours = format!("zdd pid {} on {},", std::process::id(), hostname.trim());
        Ok((!holder.starts_with(&ours)).then(|| holder.to_owned()))
    }

    fn report(&self, site: &RotationSite, server: &str, state: RotationState) {
        self.runner.emit(Event::Rotation {
            server: OutOfRotation {
                server: server.to_owned(),
                host: site.host.clone(),
                load_balancer: site.via.clone(),
                command: site.lb.restore_command(server, Some(&site.endpoint)),
            },
            state,
        });
    }

    pub async fn take_out(&self, place: &Place) -> Result<TakeOut, String> {
        let site = self.site(place);
        let states = self.states(&site).await?;
        let me = find(&states, &site)?.clone();
        if !me.in_rotation {
            return Ok(TakeOut::AlreadyOut);
        }
        if let Some(why) = refusal(&states, &me, site.min_up) {
            return Ok(TakeOut::Refused(why));
        }
        if let Some(holder) = self.other_rollout(&site).await? {
            return Err(format!(
                "another rollout is changing {}: {holder}; {} not taken out",
                at(&site),
                me.server
            ));
        }
        // Recorded before the command is sent: a kill from here on leaves a report.
        self.report(&site, &me.server, RotationState::MayBeOut);
        // A server that serves nobody (down, crashed) has nothing to drain.
        if let Some(budget) = site.drain.filter(|_| me.serving && me.sessions != Some(0)) {
            self.send(&site, Action::Drain, &me.server).await?;
            let budget = budget.min(self.drain_limit);
            let deadline = Instant::now() + budget;
            loop {
                let now = self.states(&site).await?;
                let sessions = find(&now, &site)?.sessions;
                if sessions.is_none_or(|n| n == 0) {
                    break;
                }
                if Instant::now() >= deadline {
                    self.runner.emit(Event::Warning {
                        message: format!(
                            "{} still has {} after draining for {budget:?}: disabled anyway (they go on until they end)",
                            me.server,
                            match sessions.unwrap_or_default() {
                                1 => "1 open session".to_owned(),
                                n => format!("{n} open sessions"),
                            }
                        ),
                    });
                    break;
                }
                tokio::time::sleep(POLL).await;
            }
        }
        self.send(&site, Action::Disable, &me.server).await?;
        let after = self.states(&site).await?;
        let now = find(&after, &site)?;
        if now.in_rotation {
            self.report(&site, &me.server, RotationState::Back);
            return Err(format!(
                "{} still lists {} in rotation after disabling it",
                at(&site),
                me.server
            ));
        }
        self.report(&site, &me.server, RotationState::Out);
        Ok(TakeOut::Done)
    }

    pub async fn put_back(&self, place: &Place) -> Result<(), String> {
        let site = self.site(place);
        let states = self.states(&site).await?;
        let me = find(&states, &site)?.clone();
        if !me.in_rotation {
            self.send(&site, Action::Enable, &me.server).await?;
        }
        // Back in rotation at once; serving once its health check passes.
        let deadline = Instant::now() + self.serve_wait;
        let now = loop {
            let now = find(&self.states(&site).await?, &site)?.clone();
            if !now.in_rotation || now.serving || Instant::now() >= deadline {
                break now;
            }
            tokio::time::sleep(POLL).await;
        };
        if !now.in_rotation {
            return Err(format!(
                "{} still lists {} out of rotation after enabling it",
                at(&site),
                me.server
            ));
        }
        self.report(&site, &me.server, RotationState::Back);
        if !now.serving {
            self.runner.emit(Event::Warning {
                message: format!(
                    "{} is back in rotation at {}, but its health check has not passed within {:?}: it takes requests once it does",
                    me.server,
                    at(&site),
                    self.serve_wait
                ),
            });
        }
        Ok(())
    }

    /// Whether the load balancer says it takes traffic.
    pub async fn in_rotation(&self, place: &Place) -> Result<bool, String> {
        let site = self.site(place);
        let states = self.states(&site).await?;
        Ok(find(&states, &site)?.in_rotation)
    }

    /// Closes the connections it opened.
    pub async fn close(self) {
        self.runner.close_connections().await;
    }
}

fn place_of(site: &RotationSite) -> Place {
    Place {
        host: site.host.clone(),
        lb: site.lb,
        endpoint: site.endpoint.clone(),
        server: site.server.clone(),
        via: site.via.clone(),
        min_up: site.min_up,
    }
}

/// "HAProxy at lb:/tmp/x/haproxy.sock".
fn at(site: &RotationSite) -> String {
    format!("{} at {}:{}", site.lb.name(), site.via, site.endpoint)
}

/// The first line of what a command said, for a message.
fn first_words(first: &str, then: &str) -> String {
    let text = match first.trim() {
        "" => then.trim(),
        t => t,
    };
    match text {
        "" => "no answer".to_owned(),
        t => t.lines().take(3).collect::<Vec<_>>().join(" / "),
    }
}

/// The server of `site` among `states` (`*/name`: the first backend that has it).
fn find<'a>(states: &'a [ServerState], site: &RotationSite) -> Result<&'a ServerState, String> {
    states
        .iter()
        .find(|s| same_server(&site.server, &s.server))
        .ok_or_else(|| format!("{} has no server {}", at(site), site.server))
}

/// Why taking `me` out would leave its backend with fewer than `min_up` servers serving.
fn refusal(states: &[ServerState], me: &ServerState, min_up: usize) -> Option<String> {
    let backend: Vec<&ServerState> = states.iter().filter(|s| s.backend() == me.backend()).collect();
    let serving = backend.iter().filter(|s| s.serving).count();
    let left = serving - usize::from(me.serving);
    (left < min_up).then(|| {
        format!(
            "backend {} has {serving} of {} servers serving; taking out {} would leave {left}, fewer than min_up {min_up}",
            me.backend(),
            backend.len(),
            me.server
        )
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn state(server: &str, in_rotation: bool, serving: bool) -> ServerState {
        ServerState {
            server: server.into(),
            in_rotation,
            serving,
            sessions: Some(0),
        }
    }

    #[test]
    fn the_capacity_guard_counts_the_servers_that_serve_in_the_backend() {
        let states = [
            state("lb/web1", true, true),
            state("lb/web2", true, false),
            state("lb/web3", false, false),
            state("other/web9", true, true),
        ];
        // web1 is the last one serving in `lb`: another backend's server does not count.
        let why = refusal(&states, &states[0], 1).expect("refused");
        assert_eq!(
            why,
            "backend lb has 1 of 3 servers serving; taking out lb/web1 would leave 0, fewer than min_up 1"
        );
        // web2 is down: taking it out costs nothing.
        assert_eq!(refusal(&states, &states[1], 1), None);
        assert_eq!(refusal(&states, &states[0], 0), None);
        let two_up = [state("lb/web1", true, true), state("lb/web2", true, true)];
        assert_eq!(refusal(&two_up, &two_up[0], 1), None);
        assert!(refusal(&two_up, &two_up[0], 2).is_some());
    }

    #[test]
    fn a_place_says_where_it_is_and_the_way_back() {
        let place = Place {
            host: "web3".into(),
            lb: &crate::lb::HAPROXY,
            endpoint: "/tmp/x/haproxy.sock".into(),
            server: "loadbalancer/web3".into(),
            via: "lb".into(),
            min_up: 1,
        };
        assert_eq!(
            place.describe(),
            "HAProxy loadbalancer/web3 at /tmp/x/haproxy.sock on lb"
        );
        assert_eq!(
            place.restore_command(),
            r#"echo "enable server loadbalancer/web3" | socat stdio /tmp/x/haproxy.sock"#
        );
        assert_eq!(first_words("", "  "), "no answer");
        assert_eq!(first_words("No such server.\n", "x"), "No such server.");
    }
}
