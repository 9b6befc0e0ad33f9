//! Runs a validated playbook: opens every connection first, then plays, batches, task
//! sections and handlers, applying Ansible's failure rules. It never prints: it emits
//! events.

mod ansible_batch;
mod batch;
mod block;
mod environment;
mod hosts;
mod include;
mod keywords;
mod lookups;
mod loops;
mod outcome;
mod places;
mod preflight;
mod rotation;
mod rules;
mod scope;
mod task;
mod window;

pub use block::tags_select;
pub use places::RotationSite;

use crate::error::{exit, Error};
use crate::events::{Event, EventSink, HostStats, Status};
use crate::host::local::LocalHost;
use crate::host::{ConnectSpec, Connections};
use crate::inventory::Inventory;
use crate::load::Input;
use crate::plan::{PlayRollout, RolloutPlan};
use crate::playbook::{Play, Playbook, Section, Task};
use crate::template::Templater;
use crate::vars::VarMap;
use batch::RunProgress;
use indexmap::{IndexMap, IndexSet};
use rules::{HostOutcome, PlayRules};
use serde_json::{json, Value};
use std::collections::{HashMap, HashSet};
use std::sync::atomic::{AtomicU8, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Instant;

/// Ansible's placeholder for `{{ omit }}`: an argument rendered to it is dropped.
pub const OMIT: &str = "__omit_place_holder__zdd";

#[derive(Debug, Clone, Default)]
pub struct RunOptions {
    /// Hosts of a batch that run a task at the same time.
    pub forks: usize,
    pub limit: Option<String>,
    pub check_mode: bool,
    pub diff: bool,
    /// `--tags`: empty means `all`.
    pub tags: Vec<String>,
    /// `--skip-tags`.
    pub skip_tags: Vec<String>,
    /// Skip the sudo and socket checks, and let unreachable hosts fail their first task.
    pub no_preflight: bool,
    /// `--max-connections`: above this many masters, only the batch in flight, the next
    /// one and the delegates and load balancers' hosts stay connected; 0: no limit.
    pub max_connections: usize,
    /// Batches to skip, as (1-based play index, hosts of the batch): those a resumed run
    /// completed before. Keyed by hosts so a changed inventory never skips the wrong ones.
    pub skip_batches: HashSet<(usize, Vec<String>)>,
    /// `--audit-log`: every command a module runs is written there.
    pub audit: Option<Arc<crate::audit::AuditLog>>,
    /// `--start-at-task`: a task name or glob.
    pub start_at_task: Option<String>,
    /// Handlers, by name, that the run being resumed left pending, by (1-based play
    /// index, host): the host's batch starts notified of them.
    pub pending_handlers: HashMap<(usize, String), Vec<String>>,
    /// `--become-method`, `-K` and `-k`: the defaults inventory variables override.
    pub access: crate::access::Access,
    /// How hosts are reached where their inventory and the tasks say nothing (flags,
    /// `ANSIBLE_*`, `ansible.cfg`).
    pub connection: crate::host::ConnectionSettings,
    /// `become` where the host's variables and the keywords say nothing.
    pub become_defaults: crate::host::BecomeDefaults,
}

/// What a signal asked for: nothing, finish the batch in flight, or stop after the task.
#[derive(Debug, Default)]
pub struct StopSignal(AtomicU8);

impl StopSignal {
    pub const FINISH_BATCH: u8 = 1;
    pub const STOP_NOW: u8 = 2;

    /// Record one more signal; returns how many there have been.
    pub fn escalate(&self) -> u8 {
        self.0.fetch_add(1, Ordering::SeqCst).saturating_add(1)
    }

    pub fn level(&self) -> u8 {
        self.0.load(Ordering::SeqCst)
    }
}

/// How a run ended, per host, for the exit code.
#[derive(Debug, Clone, Default)]
pub struct RunSummary {
    pub stats: IndexMap<String, HostStats>,
    pub failed_hosts: Vec<String>,
    pub unreachable_hosts: Vec<String>,
    pub interrupted: bool,
    /// A batch gate (the probe's failure budget) stopped the rollout, and why.
    pub stopped_by: Option<String>,
}

impl RunSummary {
    /// Ansible's order: an interruption, then unreachable hosts, then failed hosts.
    pub fn exit_code(&self) -> i32 {
        if self.interrupted {
            exit::INTERRUPTED
        } else if !self.unreachable_hosts.is_empty() {
            exit::UNREACHABLE
        } else if !self.failed_hosts.is_empty() || self.stopped_by.is_some() {
            exit::HOST_FAILED
        } else {
            exit::OK
        }
    }
}

/// Asked after every batch whether the rollout may go on; `Err(why)` stops it (exit 2).
pub type BatchGate = Box<dyn Fn() -> Result<(), String> + Send + Sync>;

/// Whether the run goes on after a play or batch.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Flow {
    Continue,
    /// Every host of the batch failed, or a failure rule fired: the run ends.
    Stop,
    /// A signal asked to stop.
    Interrupted,
    /// `meta: end_play`: the play ends, the run goes on with the next play.
    EndPlay,
    /// `meta: end_batch`: the batch ends, the play goes on with the next batch.
    EndBatch,
}

#[derive(Debug, Default)]
struct HostState {
    /// Gathered facts, `set_fact`s and registered results; they outlive the play.
    facts: Arc<VarMap>,
    /// Variables from `include_vars`: above task vars, below facts and `set_fact`.
    included_vars: Arc<VarMap>,
    stats: HostStats,
    failed: bool,
    unreachable: bool,
    /// The last failed task (`{name, action}`) and its result, for `ansible_failed_task`
    /// and `ansible_failed_result` in a `rescue`.
    last_failure: Option<(Value, Value)>,
    /// For each role (by `RoleInstance::key`), the first naming that ran a task here.
    roles_ran: HashMap<Arc<str>, usize>,
    /// Defaults and `vars/` of the roles a `public: true` include_role ran here, for the
    /// rest of the play (by its location).
    public_roles: Option<PublicRoles>,
}

#[derive(Debug, Default, Clone)]
struct PublicRoles {
    play: Option<crate::error::Location>,
    defaults: Arc<VarMap>,
    vars: Arc<VarMap>,
}

/// The inventory as the run sees it now, with what is derived from it. `add_host` and
/// `group_by` replace it with a changed copy.
struct InventoryView {
    inventory: Inventory,
    /// Inventory variables of each host, merged once.
    vars: HashMap<String, Arc<VarMap>>,
    /// The implicit `localhost`'s (and `127.0.0.1`'s ...): `all`'s variables and a local
    /// connection, as Ansible gives it (it is in no group, and not in `hostvars`).
    implicit_local: HashMap<String, Arc<VarMap>>,
    /// The `groups` magic variable.
    groups: Value,
    /// How many times `add_host`/`group_by` changed the inventory: 0 while it is the one
    /// the rollout plan was made from.
    generation: u64,
}

impl InventoryView {
    fn new(inventory: Inventory, generation: u64) -> InventoryView {
        let vars = inventory
            .hosts
            .keys()
            .map(|h| (h.clone(), Arc::new(inventory.host_vars(h))))
            .collect();
        let groups = serde_json::to_value(inventory.groups_map()).unwrap_or(Value::Null);
        let implicit_local = crate::inventory::LOCALHOST_NAMES
            .iter()
            .filter(|h| inventory.is_implicit_localhost(h))
            .map(|h| (h.to_string(), Arc::new(inventory.host_vars(h))))
            .collect();
        InventoryView {
            inventory,
            vars,
            implicit_local,
            groups,
            generation,
        }
    }
}

pub struct Runner {
    playbook: Playbook,
    /// The hosts and batches of every play, worked out before the run.
    plan: RolloutPlan,
    inventory: std::sync::RwLock<Arc<InventoryView>>,
    extra_vars: Arc<VarMap>,
    templater: Arc<Templater>,
    conns: Connections,
    events: Arc<EventSink>,
    opts: RunOptions,
    stop: Arc<StopSignal>,
    state: Mutex<IndexMap<String, HostState>>,
    specs: Mutex<HashMap<String, ConnectSpec>>,
    local: Arc<LocalHost>,
    rotation: rotation::RotationLedger,
    gate: Option<BatchGate>,
    /// Which masters stay open between batches (`--max-connections`).
    window: Mutex<window::Window>,
}

/// What stays the same for every task of a play.
/// The magic variables a play with roles gives every task.
pub const ROLE_PLAY_VARS: &[&str] = &[
    "ansible_role_names",
    "ansible_play_role_names",
    "role_names",
    "ansible_dependent_role_names",
];

struct PlayEnv<'a> {
    play: &'a Play,
    /// `ansible_play_hosts_all`.
    hosts: Vec<String>,
    vars: Arc<VarMap>,
    /// The play's handlers, those inside a `block` in their place (the block's keywords
    /// already on them), as Ansible lists them.
    handler_tasks: Vec<&'a Task>,
    /// What the play's roles give every task: their defaults (below the inventory) and
    /// their `vars/` (above play vars), with the role magic variables.
    roles: crate::runner::scope::PlayRoleVars,
    /// Indices into `handler_tasks` for each name and `listen` topic.
    handlers: HashMap<String, Vec<usize>>,
    rules: PlayRules,
}

impl PlayEnv<'_> {
    /// The handlers a task notifies, by index.
    fn handlers_of(&self, task: &Task) -> Vec<usize> {
        let named = task.notify.iter().filter_map(|name| self.handlers.get(name));
        named.flatten().copied().collect()
    }
}

impl Runner {
    /// A runner for `input`, which `plan` was made from.
    pub fn new(
        input: Input,
        plan: RolloutPlan,
        templater: Arc<Templater>,
        events: Arc<EventSink>,
        opts: RunOptions,
        stop: Arc<StopSignal>,
    ) -> Runner {
        Runner {
            playbook: input.playbook,
            plan,
            inventory: std::sync::RwLock::new(Arc::new(InventoryView::new(input.inventory, 0))),
            extra_vars: Arc::new(input.extra_vars),
            templater,
            conns: Connections::with_control_dir(opts.connection.control_path_dir.clone()),
            events,
            opts,
            stop,
            state: Mutex::new(IndexMap::new()),
            specs: Mutex::new(HashMap::new()),
            local: Arc::new(LocalHost::new("localhost")),
            rotation: Default::default(),
            gate: None,
            window: Mutex::default(),
        }
    }

    /// The inventory as it stands now.
    fn inv(&self) -> Arc<InventoryView> {
        self.inventory.read().unwrap_or_else(|e| e.into_inner()).clone()
    }

    /// Change the inventory (`add_host`, `group_by`): later tasks and plays see the
    /// change; the connection settings of `host` are worked out again. Returns whether
    /// `host` is new or its groups or variables changed.
    fn change_inventory(&self, host: &str, change: impl FnOnce(&mut Inventory)) -> bool {
        let mut view = self.inventory.write().unwrap_or_else(|e| e.into_inner());
        let mut inventory = view.inventory.clone();
        change(&mut inventory);
        let changed = !view.inventory.hosts.contains_key(host)
            || view.inventory.group_names(host) != inventory.group_names(host)
            || view.vars.get(host).map(|v| v.as_ref()) != Some(&inventory.host_vars(host));
        *view = Arc::new(InventoryView::new(inventory, view.generation + 1));
        self.specs.lock().unwrap_or_else(|e| e.into_inner()).remove(host);
        changed
    }

    /// Stop the rollout after a batch when `gate` says so (e.g. the probe's failure budget).
    pub fn with_gate(mut self, gate: BatchGate) -> Runner {
        self.gate = Some(gate);
        self
    }

    /// Run every play. Connections are opened before the first batch and closed on the
    /// way out, whatever happens.
    pub async fn run(&self) -> Result<RunSummary, Error> {
        let started = Instant::now();
        let mut progress = RunProgress::new(self.opts.start_at_task.clone());
        let result = self.run_plays(&mut progress).await;
        // Also after a second Ctrl-C: what the load balancers say before anything is printed.
        self.final_rotation_check().await;
        let peak_masters = self.report_peak_masters();
        self.conns.close_all().await;
        let interrupted = match result {
            Ok(flow) => flow == Flow::Interrupted,
            Err(e) => return Err(e),
        };
        let summary = self.summary(interrupted, progress.stopped_by.clone());
        if interrupted {
            self.events.emit(self.interrupted_event(&summary, &progress));
        }
        let out = self.rotation.out_of_rotation();
        if !out.is_empty() {
            self.events.emit(Event::OutOfRotation { servers: out });
        }
        self.events.emit(Event::Recap {
            hosts: summary.stats.clone(),
            duration_ms: started.elapsed().as_millis() as u64,
            peak_masters,
        });
        Ok(summary)
    }

    /// Which hosts finished, failed, or were never started when a signal stopped the run.
    fn interrupted_event(&self, summary: &RunSummary, progress: &RunProgress) -> Event {
        let (started, completed) = (&progress.started, &progress.completed);
        let mut all: IndexSet<String> = IndexSet::new();
        for index in 1..=self.playbook.plays.len() {
            all.extend(self.play_rollout(index).map(|p| p.hosts).unwrap_or_default());
        }
        let failed: Vec<String> = summary
            .failed_hosts
            .iter()
            .chain(&summary.unreachable_hosts)
            .cloned()
            .collect();
        Event::Interrupted {
            completed: completed.iter().cloned().collect(),
            // A second signal stops a batch half way: its hosts neither completed nor failed.
            stopped: started
                .iter()
                .filter(|h| !completed.contains(*h) && !failed.contains(h))
                .cloned()
                .collect(),
            failed,
            not_started: all.into_iter().filter(|h| !started.contains(h)).collect(),
        }
    }

    async fn run_plays(&self, progress: &mut RunProgress) -> Result<Flow, Error> {
        self.events.emit(Event::PlaybookStart {
            playbook: self.playbook.path.display().to_string(),
            plays: self.playbook.plays.len(),
        });
        progress.lb_locks = self.preflight(&self.planned_hosts_to_run()).await?;
        for (index, play) in self.playbook.plays.iter().enumerate() {
            let planned = self.play_rollout(index + 1)?;
            let flow = self.run_play(progress, index + 1, play, planned).await;
            if flow != Flow::Continue {
                return Ok(flow);
            }
        }
        Ok(Flow::Continue)
    }

    /// The planned hosts of each play minus those of the batches a resumed run skips:
    /// those are not contacted at all, not even by preflight.
    fn planned_hosts_to_run(&self) -> Vec<Vec<String>> {
        let batches = self.planned_batches_to_run();
        batches.into_iter().map(|b| b.concat()).collect()
    }

    /// The planned batches of each play, without those a resumed run skips.
    fn planned_batches_to_run(&self) -> Vec<Vec<Vec<String>>> {
        let plays = self.plan.plays.iter().enumerate();
        plays
            .map(|(i, play)| {
                let batches = play.batches.iter();
                batches
                    .filter(|b| !self.opts.skip_batches.contains(&(i + 1, b.to_vec())))
                    .cloned()
                    .collect()
            })
            .collect()
    }

    /// The hosts and batches of the play at a 1-based index: the rollout plan's, unless
    /// `add_host` or `group_by` changed the inventory since it was made; then the same
    /// rules applied to the inventory as it is now.
    fn play_rollout(&self, index: usize) -> Result<PlayRollout, Error> {
        let view = self.inv();
        match self.plan.play(index) {
            Some(planned) if view.generation == 0 => Ok(planned.clone()),
            _ => crate::plan::play_rollout(
                &view.inventory,
                &self.playbook.plays[index - 1],
                self.plan.limit.as_deref(),
                self.plan.seed,
            ),
        }
    }

    /// The delegates `task` names for each host of `batch`, where they can be worked out
    /// before the run (empty where they cannot): for `zdd plan`, which connects to nothing.
    pub fn planned_delegates(
        &self,
        play: &Play,
        play_hosts: &[String],
        batch: &[String],
        task: &Task,
    ) -> Vec<(String, Vec<String>)> {
        let env = self.play_env(play, play_hosts.to_vec());
        let shared = self.shared_vars(&env, batch);
        if task.delegate_to.is_none() {
            return batch.iter().map(|h| (h.clone(), Vec::new())).collect();
        }
        batch
            .iter()
            .map(|h| {
                let ctx = self.context(&env, h, task, &shared);
                let delegates = self
                    .static_item_contexts(task, &ctx)
                    .iter()
                    .filter_map(|c| self.delegate_in(task, c)?.ok())
                    .collect();
                (h.clone(), delegates)
            })
            .collect()
    }

    fn play_env<'a>(&self, play: &'a Play, hosts: Vec<String>) -> PlayEnv<'a> {
        let mut handlers: HashMap<String, Vec<usize>> = HashMap::new();
        let handler_tasks = crate::playbook::flatten(&play.handlers);
        for (i, h) in handler_tasks.iter().enumerate() {
            // A role's handler answers to `role : name` too.
            let qualified = h
                .role()
                .zip(h.name.as_ref())
                .map(|(r, n)| format!("{} : {n}", r.name));
            let names = h.name.iter().chain(&h.listen).chain(&qualified);
            for name in names {
                handlers.entry(name.clone()).or_default().push(i);
            }
        }
        PlayEnv {
            play,
            handler_tasks,
            hosts,
            vars: Arc::new(play.vars.clone()),
            roles: crate::runner::scope::PlayRoleVars::of(play),
            handlers,
            rules: PlayRules {
                any_errors_fatal: play.any_errors_fatal,
                max_fail_percentage: play.max_fail_percentage,
                force_handlers: play.force_handlers,
            },
        }
    }

    /// Run one task on `hosts` (at most `forks` at a time) and report each host's outcome.
    async fn run_task(
        &self,
        env: &PlayEnv<'_>,
        task: &Task,
        hosts: &[String],
        batch: &[String],
        section: Section,
        handler: bool,
    ) -> Vec<HostOutcome> {
        self.events.emit(Event::TaskStart {
            name: task.display_name().to_owned(),
            section,
            handler,
            via_ansible: crate::modules::registry().get(&task.module).is_none(),
        });
        let shared = self.shared_vars(env, batch);
        use crate::modules::HostLoop;
        let host_loop = crate::modules::registry()
            .get(&task.module)
            .map(|m| m.host_loop());
        let run_once = match hosts.first() {
            Some(first) => self.run_once_on(task, || self.context(env, first, task, &shared)),
            None => task.run_once,
        };
        if run_once || host_loop == Some(HostLoop::OnceForAll) {
            return self.run_once(env, task, hosts, &shared).await;
        }
        if host_loop.is_none() {
            return self.run_via_ansible(env, task, hosts, &shared).await;
        }
        if host_loop == Some(HostLoop::FirstHostOnly) {
            let Some(first) = hosts.first() else {
                return Vec::new();
            };
            return vec![self.run_on_host(env, task, first, &shared, None).await];
        }
        let forks = Arc::new(tokio::sync::Semaphore::new(
            self.throttle(env, task, hosts, &shared),
        ));
        let runs = hosts.iter().map(|host| {
            let forks = forks.clone();
            let shared = &shared;
            async move {
                let _permit = forks.acquire().await.ok();
                self.run_on_host(env, task, host, shared, None).await
            }
        });
        futures::future::join_all(runs).await
    }

    /// A module zdd does not have: each host prepares its part, then one Ansible
    /// invocation runs the task for all of them (`ansible_batch`). Hosts are not held
    /// back by `forks` here (they would wait for each other): Ansible's own forks bound
    /// the work on the hosts.
    async fn run_via_ansible(
        &self,
        env: &PlayEnv<'_>,
        task: &Task,
        hosts: &[String],
        shared: &Arc<VarMap>,
    ) -> Vec<HostOutcome> {
        let playbook_dir = task.playbook_dir(&self.playbook.dir);
        let invocation = crate::modules::via_ansible::Invocation {
            module: task.module.clone(),
            hosts: Vec::new(),
            library: crate::modules::via_ansible::library_dirs(
                playbook_dir,
                task.role().map(|r| r.path.as_path()),
            ),
            forks: self.throttle(env, task, hosts, shared),
            dir: playbook_dir.to_path_buf(),
        };
        let batch = ansible_batch::AnsibleBatch::new(invocation, hosts.len());
        let runs = hosts.iter().map(|host| {
            let batch = &batch;
            async move {
                let outcome = self.run_on_host(env, task, host, shared, Some(batch)).await;
                batch.leave().await;
                outcome
            }
        });
        futures::future::join_all(runs).await
    }

    /// How many hosts run a task at once: `--forks`, lowered by the task's `throttle`
    /// (templated with the first host's variables).
    fn throttle(&self, env: &PlayEnv<'_>, task: &Task, hosts: &[String], shared: &Arc<VarMap>) -> usize {
        let forks = self.opts.forks.max(1);
        let (Some(raw), Some(first)) = (&task.throttle, hosts.first()) else {
            return forks;
        };
        let ctx = self.context(env, first, task, shared);
        let value = self.templater.render_value(raw, &ctx).unwrap_or(Value::Null);
        let n = match &value {
            Value::Number(n) => n.as_u64(),
            Value::String(s) => s.trim().parse().ok(),
            _ => None,
        };
        match n {
            Some(n) if n > 0 => forks.min(n as usize),
            _ => forks,
        }
    }

    /// `run_once`: the first host runs it; every host of the batch gets its result.
    async fn run_once(
        &self,
        env: &PlayEnv<'_>,
        task: &Task,
        hosts: &[String],
        shared: &Arc<VarMap>,
    ) -> Vec<HostOutcome> {
        let Some(first) = hosts.first() else {
            return Vec::new();
        };
        let outcome = if crate::modules::registry().get(&task.module).is_none() {
            let mut outcomes = self.run_via_ansible(env, task, &hosts[..1], shared).await;
            outcomes.remove(0)
        } else {
            self.run_on_host(env, task, first, shared, None).await
        };
        if let Some(name) = &task.register {
            let registered = self.fact(first, name);
            for h in &hosts[1..] {
                self.set_facts(h, VarMap::from([(name.clone(), registered.clone())]));
            }
        }
        hosts
            .iter()
            .map(|h| HostOutcome {
                host: h.clone(),
                ..outcome.clone()
            })
            .collect()
    }
}

/// The implicit first task of a batch when `gather_facts` is on.
fn gather_facts_task(play: &Play) -> Task {
    Task {
        loc: play.loc.clone(),
        name: Some("Gathering Facts".into()),
        module: "setup".into(),
        module_loc: play.loc.clone(),
        args: match &play.fact_path {
            Some(path) => json!({ "fact_path": path }),
            None => json!({}),
        },
        arg_locs: IndexMap::new(),
        keyword_locs: IndexMap::new(),
        delegate_to: None,
        delegate_facts: false,
        run_once: false,
        loop_: None,
        loop_control: Default::default(),
        when: play.when.clone(),
        register: None,
        until: None,
        retries: None,
        delay: None,
        notify: Vec::new(),
        listen: Vec::new(),
        privilege: Default::default(),
        ignore_errors: None,
        ignore_unreachable: false,
        changed_when: None,
        failed_when: None,
        vars: VarMap::new(),
        tags: vec!["always".into()],
        no_log: false,
        check_mode: None,
        connection: None,
        throttle: None,
        any_errors_fatal: false,
        run: play.run.clone(),
        async_: None,
        poll: None,
        block: None,
        include: None,
        include_params: None,
        origin: Default::default(),
        templated: Vec::new(),
    }
}
#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn exit_code_prefers_interrupt_then_unreachable_then_failed() {
        let mut s = RunSummary::default();
        assert_eq!(s.exit_code(), 0);
        s.failed_hosts.push("web1".into());
        assert_eq!(s.exit_code(), 2);
        s.unreachable_hosts.push("web2".into());
        assert_eq!(s.exit_code(), 4);
        s.interrupted = true;
        assert_eq!(s.exit_code(), 130);
    }

    #[test]
    fn stop_signal_escalates() {
        let stop = StopSignal::default();
        assert_eq!(stop.level(), 0);
        assert_eq!(stop.escalate(), StopSignal::FINISH_BATCH);
        assert_eq!(stop.escalate(), StopSignal::STOP_NOW);
        assert_eq!(stop.level(), 2);
    }
}
