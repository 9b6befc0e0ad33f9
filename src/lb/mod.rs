//! Load balancers zdd takes servers out of and puts back, behind one trait.
//!
//! One file per implementation, listed in `registry()`. What the runner needs from a load
//! balancer is small: the runtime-API commands, a preflight check that it answers, what a
//! shell task's command does to its servers (the workshop's `echo "disable server ..." |
//! socat ...`), and the command that puts a server back, printed under OUT OF ROTATION
//! when a run stops early. A module that drives one (the `haproxy` module) reports its
//! changes through the `lb_changes`/`lb_endpoints` hooks, built with the same types.
//!
//! Adding a load balancer: a new file here and a line in `registry()` (and, optionally,
//! a module file for tasks that drive it).

mod haproxy;
pub mod nginx;

pub use haproxy::{Haproxy, HAPROXY};
pub use nginx::{Nginx, NGINX};
use std::fmt;
use std::hash::{Hash, Hasher};

/// What a runtime-API command does to a server.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Action {
    /// Out of rotation at once.
    Disable,
    /// No new sessions; the open ones finish.
    Drain,
    /// Back in rotation.
    Enable,
}

impl Action {
    /// Disabled and drained servers alike are out of rotation.
    pub fn takes_out(self) -> bool {
        self != Action::Enable
    }
}

pub trait LoadBalancer: Send + Sync {
    /// As users know it ("HAProxy"): in messages and the audit log.
    fn name(&self) -> &'static str;

    /// Where its runtime API listens when a task names no endpoint.
    fn default_endpoint(&self) -> &'static str;

    /// The runtime-API command for `server` (`backend/server` for HAProxy).
    fn command(&self, action: Action, server: &str) -> String;

    /// A POSIX sh script that exits 0 only when the load balancer answers at `endpoint`,
    /// and says why not on stderr.
    fn check_script(&self, endpoint: &str) -> String;

    /// A POSIX sh script that prints the state of every server behind `endpoint`, for
    /// `servers_in_rotation`.
    fn state_script(&self, endpoint: &str) -> String;

    /// From `state_script`'s output: each server (`backend/server`) and whether it takes
    /// traffic (not disabled, not draining). What the load balancer says, not what a task
    /// meant to do, is what OUT OF ROTATION reports.
    fn servers_in_rotation(&self, output: &str) -> Vec<(String, bool)>;

    /// The shell command an operator runs to put `server` back.
    fn restore_command(&self, server: &str, endpoint: Option<&str>) -> String;

    /// Endpoints a shell command talks to.
    fn endpoints_in_command(&self, command: &str) -> Vec<String>;

    /// What a shell command does to this load balancer's servers.
    fn changes_in_command(&'static self, command: &str) -> Vec<LbChange>;

    /// What its endpoint is, in messages and the audit log ("socket" for HAProxy's API).
    fn endpoint_kind(&self) -> &'static str {
        "socket"
    }

    /// For a load balancer that routes to one of several pools (blue/green behind nginx):
    /// a POSIX sh script whose output `live_color` reads. `None`: it has no such notion.
    fn live_script(&self, _endpoint: &str) -> Option<String> {
        None
    }

    /// Which color (pool) takes the traffic, from `live_script`'s output.
    fn live_color(&self, _output: &str) -> Option<String> {
        None
    }

    /// A POSIX sh script that sends `action` for `server` (as the load balancer lists it:
    /// `backend/server`, never `*/server`) to the runtime API at `endpoint`, and exits
    /// non-zero with the load balancer's answer on stderr when it refuses. `None`: it has
    /// no per-server action (nginx switches a whole pool). What `zdd watch` takes a host
    /// out of rotation and puts it back with.
    fn action_script(&self, _endpoint: &str, _action: Action, _server: &str) -> Option<String> {
        None
    }

    /// From `state_script`'s output: each server with what a capacity guard and a drain
    /// need. By default, what `servers_in_rotation` says: a server in rotation serves, its
    /// sessions are unknown.
    fn server_states(&self, output: &str) -> Vec<ServerState> {
        self.servers_in_rotation(output)
            .into_iter()
            .map(|(server, in_rotation)| ServerState {
                server,
                in_rotation,
                serving: in_rotation,
                sessions: None,
            })
            .collect()
    }
}

/// One server as the load balancer lists it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ServerState {
    /// `backend/server` for HAProxy.
    pub server: String,
    /// Not taken out (not disabled, not draining), whatever its health.
    pub in_rotation: bool,
    /// In rotation and passing its health check: it takes requests now.
    pub serving: bool,
    /// Its open sessions, when the load balancer tells.
    pub sessions: Option<u64>,
}

impl ServerState {
    /// The backend (pool) it is in: what comes before the last `/`, or nothing.
    pub fn backend(&self) -> &str {
        self.server.rsplit_once('/').map_or("", |(b, _)| b)
    }
}

impl fmt::Debug for dyn LoadBalancer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl PartialEq for dyn LoadBalancer {
    fn eq(&self, other: &Self) -> bool {
        self.name() == other.name()
    }
}

impl Eq for dyn LoadBalancer {}

/// Every load balancer zdd knows. Adding one: a new file and a line here.
pub fn registry() -> &'static [&'static dyn LoadBalancer] {
    static REGISTRY: [&dyn LoadBalancer; 2] = [&HAPROXY, &NGINX];
    &REGISTRY
}

/// A server taken out of (or put back into) rotation by a task.
#[derive(Debug, Clone, PartialEq)]
pub struct LbChange {
    pub lb: &'static dyn LoadBalancer,
    pub server: String,
    pub action: Action,
    /// The endpoint the task talked to, when it named one.
    pub endpoint: Option<String>,
}

impl LbChange {
    pub fn restore_command(&self) -> String {
        self.lb.restore_command(&self.server, self.endpoint.as_deref())
    }
}

/// A load balancer's runtime API that preflight checks.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Endpoint {
    pub lb: &'static dyn LoadBalancer,
    pub address: String,
}

impl Hash for Endpoint {
    fn hash<H: Hasher>(&self, state: &mut H) {
        self.lb.name().hash(state);
        self.address.hash(state);
    }
}

/// The script that holds zdd's rollout lock on the host of `endpoint` for as long as its
/// standard input stays open. It prints `locked`, `busy: HOLDER` (another zdd holds it),
/// or `unsupported: ...` first. `holder` says who holds it, for the other run's error.
pub fn lock_script(lb: &dyn LoadBalancer, endpoint: &str, holder: &str) -> String {
    let lock = lock_path(lb, endpoint);
    crate::host::sh_script(&[("lock", &lock), ("holder", holder)], include_str!("lock.sh"))
}

/// The file zdd's rollout lock on the load balancer at `endpoint` is held on, on the host
/// that talks to it.
pub fn lock_path(lb: &dyn LoadBalancer, endpoint: &str) -> String {
    use sha2::{Digest, Sha256};
    let digest = Sha256::digest(format!("{}\0{endpoint}", lb.name()).as_bytes());
    let name: String = digest[..8].iter().map(|b| format!("{b:02x}")).collect();
    format!("/tmp/zdd-lb-{name}.lock")
}

/// A script that tells, without taking it, whether a run holds zdd's rollout lock on the
/// load balancer at `endpoint`: it prints `free`, `busy: HOLDER` or `unsupported: ...`.
/// `zdd watch` asks before it takes a server out (a rollout from another controller may be
/// going through the same load balancer).
pub fn lock_probe_script(lb: &dyn LoadBalancer, endpoint: &str) -> String {
    let lock = lock_path(lb, endpoint);
    crate::host::sh_script(&[("lock", &lock)], include_str!("lock_probe.sh"))
}

/// Whether `server` as a task names it (`backend/name`, or `*/name` for any backend) is
/// `actual` as the load balancer lists it.
pub fn same_server(server: &str, actual: &str) -> bool {
    match server.strip_prefix("*/") {
        Some(name) => actual.rsplit_once('/').is_some_and(|(_, n)| n == name),
        None => server == actual,
    }
}

/// What a shell command does to any known load balancer.
pub fn changes_in_command(command: &str) -> Vec<LbChange> {
    registry()
        .iter()
        .flat_map(|lb| lb.changes_in_command(command))
        .collect()
}

/// The endpoints of any known load balancer a shell command talks to.
pub fn endpoints_in_command(command: &str) -> Vec<Endpoint> {
    registry()
        .iter()
        .flat_map(|lb| {
            lb.endpoints_in_command(command)
                .into_iter()
                .map(|address| Endpoint { lb: *lb, address })
        })
        .collect()
}
