//! What the runner says happened. The runner never prints: it emits these, and the
//! renderers (human, live progress, JSON) draw them.

use crate::playbook::Section;
use indexmap::IndexMap;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use std::sync::Mutex;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "event", rename_all = "snake_case")]
pub enum Event {
    PlaybookStart {
        playbook: String,
        plays: usize,
    },
    /// Every host and delegate answered, sudo works where `become` is used, and every
    /// HAProxy socket the playbook names answers.
    Preflight {
        hosts: usize,
        sudo_checked: usize,
        /// `host:path` of each HAProxy socket checked.
        sockets: Vec<String>,
        /// Every other load balancer checked, as `NAME at host:endpoint` (nginx and its
        /// upstream file).
        #[serde(default, skip_serializing_if = "Vec::is_empty")]
        other_load_balancers: Vec<String>,
        duration_ms: u64,
    },
    /// Emitted for every batch, as Ansible prints `PLAY [...]` per batch with `serial`.
    BatchStart {
        play: String,
        /// 1-based position of the play in the playbook.
        play_index: usize,
        /// 1-based.
        index: usize,
        total: usize,
        hosts: Vec<String>,
    },
    TaskStart {
        name: String,
        section: Section,
        handler: bool,
        /// The module is not zdd's: the task runs through Ansible.
        #[serde(default, skip_serializing_if = "std::ops::Not::not")]
        via_ansible: bool,
    },
    /// A host begins a task (it holds one of the forks); its `HostResult` follows.
    HostStart {
        host: String,
        task: String,
    },
    HostResult(HostResult),
    /// `include_tasks` loaded `file` for these hosts (one event per distinct file and
    /// loop item, as Ansible's `included: FILE for HOSTS`); its tasks follow.
    Included {
        task: String,
        /// Absolute path of the file.
        file: String,
        hosts: Vec<String>,
        /// The loop item's label, for a looped include.
        #[serde(skip_serializing_if = "Option::is_none")]
        item: Option<String>,
    },
    /// An `until` condition did not hold yet; the task runs again after its delay.
    Retry {
        host: String,
        task: String,
        retries_left: u32,
        result: Value,
    },
    BatchEnd {
        play: String,
        /// 1-based position of the play in the playbook.
        play_index: usize,
        index: usize,
        total: usize,
        /// Hosts that finished the batch without failing.
        completed: Vec<String>,
        failed: Vec<String>,
        unreachable: Vec<String>,
        /// A second signal stopped the batch before it finished: `completed` hosts did
        /// not finish it either.
        interrupted: bool,
        duration_ms: u64,
        /// Handlers each host was notified of but did not run, by name.
        #[serde(default, skip_serializing_if = "IndexMap::is_empty")]
        pending_handlers: IndexMap<String, Vec<String>>,
    },
    /// Every host of the batch failed, or a failure rule ended the play.
    NoMoreHosts {
        reason: String,
    },
    Warning {
        message: String,
    },
    /// Preflight found hosts it cannot use: the run stops there, before any host was
    /// changed, and no `Recap` follows.
    PreflightFailed {
        /// Hosts that could not be reached, with ssh's reason (exit 4).
        unreachable: IndexMap<String, String>,
        /// Reachable hosts where sudo or a load balancer socket does not work (exit 2).
        problems: Vec<HostProblem>,
    },
    /// A signal stopped the run: which hosts finished their batch, which were stopped half
    /// way through it (a second signal), which failed, which were never started.
    Interrupted {
        completed: Vec<String>,
        stopped: Vec<String>,
        failed: Vec<String>,
        not_started: Vec<String>,
    },
    /// Servers this run took out of the load balancer and did not put back.
    OutOfRotation {
        servers: Vec<OutOfRotation>,
    },
    /// What zdd knows of a server a task talks to a load balancer about: recorded before
    /// the task sends its command (`may_be_out`), and again once the load balancer said
    /// (`out`, `back`). The journal keeps the latest, so `zdd status` can tell after a kill.
    Rotation {
        #[serde(flatten)]
        server: OutOfRotation,
        state: RotationState,
    },
    Recap {
        hosts: IndexMap<String, HostStats>,
        duration_ms: u64,
        /// The most SSH masters open at once, when `--max-connections` made the run close
        /// and reopen them.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        peak_masters: Option<usize>,
    },
    /// What `--probe` saw during the run.
    Probe(crate::probe::ProbeReport),
    /// One second of `--probe` traffic, emitted as each second ends (the last, partial
    /// one when the probe stops): what the report's traffic chart draws.
    ProbeSample(crate::probe::ProbeSample),
    /// Where and how the run was started: the first event of `apply` and `watch`, for
    /// the HTML report. The command line has its secrets censored.
    RunInfo(RunInfo),
    /// The run is over; what `zdd apply` exits with (the probe's budget counted).
    RunEnd {
        exit_code: i32,
    },
    /// `--notify`: the summary was POSTed (the HTTP status) or not (why). The URL is
    /// shown without credentials or query.
    Notify {
        url: String,
        #[serde(skip_serializing_if = "Option::is_none")]
        status: Option<u16>,
        #[serde(skip_serializing_if = "Option::is_none")]
        error: Option<String>,
    },
    /// `zdd watch` starts: what it checks and how often.
    WatchStart {
        /// The watched hosts.
        targets: Vec<String>,
        /// The service URL through the load balancer, when one is checked.
        #[serde(skip_serializing_if = "Option::is_none")]
        service: Option<String>,
        interval_ms: u64,
        failures: u32,
        max_redeploys: u32,
    },
    /// One health check of a host, or of the service (`target` = `service`).
    HealthCheck {
        target: String,
        ok: bool,
        detail: String,
        ms: u64,
    },
    /// A watched target changed state (healthy, suspect, critical, healing, healed,
    /// given_up); `reason` says why, as the human line shows it.
    HealthState {
        target: String,
        from: crate::watch::tracker::HealthState,
        to: crate::watch::tracker::HealthState,
        reason: String,
    },
    /// The healer took a host out of rotation before its redeploy (`out`, `already_out`),
    /// did not (`refused`: the capacity guard, `failed`), or put it back (`back`).
    WatchRotation {
        host: String,
        /// `HAProxy loadbalancer/web3 at /tmp/x/haproxy.sock`.
        place: String,
        action: String,
        #[serde(skip_serializing_if = "Option::is_none")]
        detail: Option<String>,
    },
    /// A redeploy by the healer ended: `healed`, `not_healed`, `given_up`, `busy` (another
    /// run holds the rollout lock), `interrupted`.
    HealEnd {
        target: String,
        hosts: Vec<String>,
        outcome: String,
        #[serde(skip_serializing_if = "Option::is_none")]
        exit_code: Option<i32>,
        took_ms: u64,
        detail: String,
    },
    /// `zdd heal`: what the Consul payload holds and what it redeploys.
    HealPlan {
        /// How many checks the payload holds.
        checks: usize,
        /// Its critical checks, described ("web2: Service 'web' check is critical: ...").
        critical: Vec<String>,
        redeploys: Vec<HealTarget>,
    },
}

/// The run's context (`Event::RunInfo`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RunInfo {
    /// `apply`, `watch`, `heal`.
    pub command: String,
    /// The command line, each argument as given, secrets censored.
    pub argv: Vec<String>,
    /// `zdd 0.1.0 (abc1234)`.
    pub zdd_version: String,
    /// The controller: its host name.
    pub machine: String,
    /// `Debian GNU/Linux 12 (bookworm), x86_64, 2 CPUs`.
    pub platform: String,
    /// The user running zdd.
    pub user: String,
    /// RFC 3339, UTC.
    pub started: String,
}

/// One redeploy `zdd heal` runs: a service's playbook and inventory, on some hosts.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct HealTarget {
    /// The Consul service name, when `--config` mapped it.
    pub service: Option<String>,
    pub playbook: String,
    pub inventory: Vec<String>,
    /// The critical hosts, each redeployed alone; empty: every host of the service at once.
    pub hosts: Vec<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Status {
    Ok,
    Changed,
    Failed,
    Skipped,
    Unreachable,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct HostResult {
    pub host: String,
    /// Where the task ran, when it was delegated to another host.
    pub delegate: Option<String>,
    /// The delegate's `ansible_host`, when it differs from its name.
    pub delegate_address: Option<String>,
    pub task: String,
    pub status: Status,
    pub changed: bool,
    /// The loop item's label for a per-item result; `None` for a whole-task result.
    pub item: Option<String>,
    /// A whole-task result of a looped task (its items were reported one by one).
    pub looped: bool,
    /// The task failed but `ignore_errors` let the host go on.
    pub ignored: bool,
    pub rc: Option<i32>,
    pub duration_ms: u64,
    /// The result as Ansible would register it (`msg`, `stdout`, `stderr`, ...), shown on
    /// failure and for `debug`. Hidden with `no_log`.
    pub result: Value,
    /// Only print the result body (debug's `msg`/`var`), Ansible's `ok: [h] => {...}`.
    pub show_result: bool,
}

/// What a `no_log` result reads as, in every output (Ansible's words).
pub fn censored_result(changed: bool) -> Value {
    serde_json::json!({"censored": "the output has been hidden due to the fact that 'no_log: true' was specified for this result", "changed": changed})
}

/// What a `no_log` loop item reads as (Ansible's words).
pub const CENSORED_ITEM: &str = "(censored due to no_log)";

impl HostResult {
    /// A whole-task result of `task` on `host`, run there (no delegate, no loop item),
    /// `changed` as `status` says; the other fields as a plain result has them.
    pub fn new(host: &str, task: &str, status: Status, result: Value) -> HostResult {
        HostResult {
            host: host.into(),
            delegate: None,
            delegate_address: None,
            task: task.into(),
            status,
            changed: status == Status::Changed,
            item: None,
            looped: false,
            ignored: false,
            rc: None,
            duration_ms: 0,
            result,
            show_result: false,
        }
    }

    /// Hide the result as `no_log: true` hides it: the output and the item, not the status.
    pub fn censor(&mut self) {
        self.result = censored_result(self.changed);
        self.item = self.item.as_ref().map(|_| CENSORED_ITEM.to_owned());
        self.show_result = false;
    }
}

/// Every output draws these events, so this is where values that came from Vault are kept
/// out of all of them (human, JSON, JUnit, journal): a result or item holding one is
/// censored as a `no_log` result is, and any other text masks it.
pub(crate) fn hide_vault_secrets(event: &mut Event) {
    use crate::vault::{mask, reveals, reveals_str};
    let mask_in_place = |s: &mut String| {
        if reveals_str(s) {
            *s = mask(s).into_owned();
        }
    };
    match event {
        Event::HostResult(r) if reveals(&r.result) || r.item.as_deref().is_some_and(reveals_str) => {
            r.censor()
        }
        Event::Retry { result, .. } if reveals(result) => *result = censored_result(false),
        Event::Included { item: Some(item), .. } => mask_in_place(item),
        Event::Warning { message } | Event::NoMoreHosts { reason: message } => mask_in_place(message),
        Event::OutOfRotation { servers } => servers.iter_mut().for_each(|s| mask_in_place(&mut s.command)),
        Event::Rotation { server, .. } => mask_in_place(&mut server.command),
        Event::HealPlan { critical, .. } => critical.iter_mut().for_each(mask_in_place),
        Event::HealthCheck { detail, .. } | Event::WatchRotation { place: detail, .. } => {
            mask_in_place(detail)
        }
        Event::HealthState { reason, .. } | Event::HealEnd { detail: reason, .. } => mask_in_place(reason),
        Event::WatchStart {
            service: Some(url), ..
        } => mask_in_place(url),
        Event::RunInfo(info) => info.argv.iter_mut().for_each(mask_in_place),
        Event::PreflightFailed {
            unreachable,
            problems,
        } => {
            unreachable.values_mut().for_each(mask_in_place);
            problems.iter_mut().for_each(|p| mask_in_place(&mut p.message));
        }
        _ => {}
    }
}

/// One host's problem found by preflight.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct HostProblem {
    pub host: String,
    pub message: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct OutOfRotation {
    /// `backend/server` as HAProxy names it.
    pub server: String,
    /// The inventory host it was disabled for.
    pub host: String,
    /// Where HAProxy runs (the delegate of the disable task).
    pub load_balancer: String,
    /// What puts it back, run on the load balancer.
    pub command: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RotationState {
    /// A command that takes it out is about to be sent, or was sent and the load balancer
    /// could not be asked since.
    MayBeOut,
    /// The load balancer says it takes no traffic.
    Out,
    /// The load balancer says it takes traffic again.
    Back,
}

/// Ansible's per-host counters, as `PLAY RECAP` prints them.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct HostStats {
    pub ok: u32,
    pub changed: u32,
    pub unreachable: u32,
    pub failed: u32,
    pub skipped: u32,
    pub rescued: u32,
    pub ignored: u32,
}

/// A renderer of events.
pub trait Reporter: Send {
    fn event(&mut self, event: &Event);
}

/// Fans events out to the reporters, in order, from any task.
pub struct EventSink {
    reporters: Mutex<Vec<Box<dyn Reporter>>>,
}

impl EventSink {
    pub fn new(reporters: Vec<Box<dyn Reporter>>) -> Self {
        EventSink {
            reporters: Mutex::new(reporters),
        }
    }

    pub fn emit(&self, mut event: Event) {
        hide_vault_secrets(&mut event);
        let mut reporters = self.reporters.lock().unwrap_or_else(|e| e.into_inner());
        for r in reporters.iter_mut() {
            r.event(&event);
        }
    }
}

/// Collects events; for tests and for the run summary.
#[derive(Debug, Default, Clone)]
pub struct Recorder {
    pub events: std::sync::Arc<Mutex<Vec<Event>>>,
}

impl Reporter for Recorder {
    fn event(&mut self, event: &Event) {
        self.events
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .push(event.clone());
    }
}
