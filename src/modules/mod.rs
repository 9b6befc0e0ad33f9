//! Modules: one file each, listed in `registry()`.
//!
//! A module turns its (already templated) arguments into shell commands and files on the
//! host, and reports what it did. No Python on targets: only POSIX sh and coreutils.
//!
//! Adding a module is one new file here and one line in `registry()` (with its `mod` line):
//! implement [`TypedModule`] (a `deny_unknown_fields` serde struct as `Args`, and `run`) and
//! override the hooks it needs. A script it runs on the host goes in a `.sh` beside it
//! (`include_str!`, arguments set by a quoted prologue, `host::sh_script`), which
//! `scripts/test` checks with shellcheck. The runner, the validator and preflight only ask
//! hooks; none of them knows a module by name (`stat.rs` was added this way).

use crate::host::{Become, Host, HostError};
use crate::lb::{Endpoint, LbChange};
use crate::template::Templater;
use crate::vars::{Context, VarMap};
use async_trait::async_trait;
use serde::de::DeserializeOwned;
use serde_json::{Map, Value};
use std::path::Path;

mod add_host;
mod apt_key;
mod apt_repository;
pub mod args;
mod assert;
mod async_status;
mod authorized_key;
mod blockinfile;
mod command;
mod copy;
mod cron;
mod debug;
mod edit_file;
mod fail;
mod fetch;
mod file;
mod find;
mod get_url;
mod getent;
mod git;
mod group;
mod group_by;
mod haproxy;
mod hostname;
pub mod include_role;
pub mod include_tasks;
pub mod include_vars;
mod lineinfile;
pub mod meta;
mod mount;
mod nginx_upstream;
mod package;
mod package_facts;
mod pause;
mod ping;
mod pip;
mod put;
mod pyre;
mod raw;
mod reboot;
mod replace;
mod script;
mod service;
mod service_facts;
mod set_fact;
mod setup;
mod setup_local;
mod shell;
mod slurp;
mod stat;
mod synchronize;
mod sysctl;
mod systemd;
mod tempfile;
mod template;
mod textedit;
mod unarchive;
mod uri;
mod user;
pub mod via_ansible;
mod wait_for;
mod wait_for_connection;
mod yum_repository;

/// What a module needs while it runs.
pub struct ModuleCtx<'a> {
    /// Where commands run: the delegate, or the inventory host.
    pub host: &'a dyn Host,
    pub run_as: Option<&'a Become>,
    pub templater: &'a Templater,
    /// The inventory host's variables (the `template` module renders with these).
    pub vars: &'a Context,
    /// Where `template` and `copy` look for `src` (see `find_local_file`).
    pub playbook_dir: &'a Path,
    /// The task's role: its `templates/` and `files/` are looked in first.
    pub role_path: Option<&'a Path>,
    /// The directory of the file the task was written in (`include_vars` looks there).
    pub task_dir: Option<&'a Path>,
    pub check_mode: bool,
    pub diff: bool,
}

/// What a module reports. Becomes the registered variable, merged with `extra`.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ModuleResult {
    pub changed: bool,
    pub failed: bool,
    pub msg: Option<String>,
    pub rc: Option<i32>,
    pub stdout: Option<String>,
    pub stderr: Option<String>,
    /// `set_fact`, `gather_facts`: variables to set on the inventory host.
    pub facts: VarMap,
    /// Module-specific fields (`cmd`, `dest`, `state`, `diff`, ...).
    pub extra: Map<String, Value>,
    /// `add_host`, `group_by`: what the runner is to change in the inventory.
    pub inventory: Option<InventoryChange>,
}

impl ModuleResult {
    pub fn ok() -> Self {
        ModuleResult::default()
    }

    pub fn changed(changed: bool) -> Self {
        ModuleResult {
            changed,
            ..Default::default()
        }
    }

    pub fn failed(msg: impl Into<String>) -> Self {
        ModuleResult {
            failed: true,
            msg: Some(msg.into()),
            ..Default::default()
        }
    }
}

/// A problem with a task's arguments, found before anything runs (or, for templated
/// values, once they are rendered).
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("{message}")]
pub struct ArgError {
    /// The argument key at fault, if any (used to point at its line).
    pub key: Option<String>,
    pub message: String,
    pub hint: Option<String>,
}

impl ArgError {
    pub fn new(message: impl Into<String>) -> Self {
        ArgError {
            key: None,
            message: message.into(),
            hint: None,
        }
    }

    pub fn key(mut self, key: impl Into<String>) -> Self {
        self.key = Some(key.into());
        self
    }

    pub fn hint(mut self, hint: impl Into<String>) -> Self {
        self.hint = Some(hint.into());
        self
    }
}

/// What the validator knows when it checks a task statically.
pub struct StaticCtx<'a> {
    pub playbook_dir: &'a Path,
    /// The task's role, whose `templates/` and `files/` come first.
    pub role_path: Option<&'a Path>,
}

/// How a task's hosts run it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum HostLoop {
    /// Each host of the batch runs it (at most `forks` at a time).
    EachHost,
    /// It bypasses the host loop (`pause`): the first host runs it, every host gets its
    /// result, as with `run_once`.
    OnceForAll,
    /// It bypasses the host loop and only the first host runs, counts and registers it
    /// (`add_host`).
    FirstHostOnly,
}

/// A change to the run's inventory that a module's result describes (`add_host`,
/// `group_by`); the runner applies it, and later tasks and plays see it.
#[derive(Debug, Clone, PartialEq)]
pub enum InventoryChange {
    AddHost {
        name: String,
        groups: Vec<String>,
        vars: VarMap,
    },
    /// The host the task ran for joins `group`, a child of each of `parents`.
    GroupBy { group: String, parents: Vec<String> },
}

/// Why a module did not do its job. `Task` becomes a failed result (the host stays in
/// the run and `ignore_errors` applies); `Host` is the connection failing.
#[derive(Debug)]
pub enum Failure {
    Task(String),
    Host(HostError),
}

impl From<HostError> for Failure {
    fn from(e: HostError) -> Self {
        Failure::Host(e)
    }
}

impl From<ArgError> for Failure {
    fn from(e: ArgError) -> Self {
        Failure::Task(e.message)
    }
}

impl From<String> for Failure {
    fn from(msg: String) -> Self {
        Failure::Task(msg)
    }
}

impl From<&str> for Failure {
    fn from(msg: &str) -> Self {
        Failure::Task(msg.to_owned())
    }
}

/// A module as it is written: typed arguments, parsed once per call, and hooks whose
/// defaults fit a plain module that runs on each host and touches nothing else.
/// The blanket impl below turns every one into the object-safe [`Module`].
#[async_trait]
pub trait TypedModule: Send + Sync + 'static {
    /// A `deny_unknown_fields` struct: a misspelt key is an error with a line number.
    type Args: DeserializeOwned + Send + Sync;

    fn name(&self) -> &'static str;

    /// Other names for this module (`yum`, `dnf`, `apt` for `package`).
    fn aliases(&self) -> &'static [&'static str] {
        &[]
    }

    /// Accepts free-form text (`shell: echo hi`), kept under `_raw_params`.
    fn free_form(&self) -> bool {
        false
    }

    /// Runs on the controller only, never on a host (`debug`, `set_fact`, `fail`).
    fn controller_only(&self) -> bool {
        false
    }

    fn host_loop(&self) -> HostLoop {
        HostLoop::EachHost
    }

    /// The runner carries the task out itself (`meta`); `run` is never called.
    fn directs_the_runner(&self) -> bool {
        false
    }

    /// Its result is printed under the task, as `debug`'s is.
    fn shows_result(&self) -> bool {
        false
    }

    /// Argument keys whose templates may name undefined variables without an error
    /// (`debug: var=x` prints "VARIABLE IS NOT DEFINED!" rather than failing).
    fn tolerates_undefined(&self) -> &'static [&'static str] {
        &[]
    }

    /// Raw arguments to `Args`; override to accept free-form text or a bare mapping.
    fn parse(&self, raw: &Value) -> Result<Self::Args, ArgError> {
        args::parse(self.name(), raw)
    }

    /// Rules on the arguments that hold before the run and once they are rendered.
    /// `raw` tells a missing key from a templated one (which parses as "not known yet").
    fn check(&self, _args: &Self::Args, _raw: &Value) -> Result<(), ArgError> {
        Ok(())
    }

    /// Rules on the rendered arguments, checked just before `run`: no value is "not known
    /// yet" any more, so one still holding `{{` (from a variable's value) is checked like
    /// any other. Values that reach a load balancer or a package manager are checked here.
    fn check_rendered(&self, _args: &Self::Args) -> Result<(), ArgError> {
        Ok(())
    }

    /// Rules checked only before anything runs (a local `src` exists); values holding
    /// `{{ }}` are not final yet and must be accepted if they could become valid.
    fn check_static(&self, _args: &Self::Args, _raw: &Value, _ctx: &StaticCtx<'_>) -> Result<(), ArgError> {
        Ok(())
    }

    /// Variables the task defines on the host (`set_fact`), for the validator's scope.
    fn defines_vars(&self, _args: &Self::Args) -> Vec<String> {
        Vec::new()
    }

    /// Its facts are `include_vars` variables: above task vars and below `set_fact` and
    /// registered results, in Ansible's order of precedence.
    fn includes_vars(&self) -> bool {
        false
    }

    /// Local template files the task renders, for the validator to read.
    fn template_files(&self, _args: &Self::Args) -> Vec<String> {
        Vec::new()
    }

    /// What a successful run did to a load balancer's rotation (rendered arguments).
    fn lb_changes(&self, _args: &Self::Args) -> Vec<LbChange> {
        Vec::new()
    }

    /// Load balancer endpoints preflight must find answering before the first batch.
    fn lb_endpoints(&self, _args: &Self::Args) -> Vec<Endpoint> {
        Vec::new()
    }

    /// Run with parsed, templated arguments (already through `check`).
    async fn run(&self, ctx: &ModuleCtx<'_>, args: Self::Args) -> Result<ModuleResult, Failure>;
}

/// What the registry holds: a module with its arguments still raw JSON.
#[async_trait]
pub trait Module: Send + Sync {
    fn name(&self) -> &'static str;
    fn aliases(&self) -> &'static [&'static str];
    fn free_form(&self) -> bool;
    fn controller_only(&self) -> bool;
    fn host_loop(&self) -> HostLoop;
    fn includes_vars(&self) -> bool;
    fn directs_the_runner(&self) -> bool;
    fn shows_result(&self) -> bool;
    fn tolerates_undefined(&self) -> &'static [&'static str];

    /// Check the raw arguments before anything runs: unknown or missing keys, bad
    /// choices, a `src` file that does not exist.
    fn check_args(&self, args: &Value, ctx: &StaticCtx<'_>) -> Result<(), ArgError>;

    /// The hooks below read arguments that may not parse (yet); those give nothing.
    fn defines_vars(&self, args: &Value) -> Vec<String>;
    fn template_files(&self, args: &Value) -> Vec<String>;
    fn lb_changes(&self, args: &Value) -> Vec<LbChange>;
    fn lb_endpoints(&self, args: &Value) -> Vec<Endpoint>;

    /// Run with templated arguments.
    async fn run(&self, ctx: &ModuleCtx<'_>, args: &Value) -> Result<ModuleResult, HostError>;
}

#[async_trait]
impl<M: TypedModule> Module for M {
    fn name(&self) -> &'static str {
        TypedModule::name(self)
    }

    fn aliases(&self) -> &'static [&'static str] {
        TypedModule::aliases(self)
    }

    fn free_form(&self) -> bool {
        TypedModule::free_form(self)
    }

    fn controller_only(&self) -> bool {
        TypedModule::controller_only(self)
    }

    fn host_loop(&self) -> HostLoop {
        TypedModule::host_loop(self)
    }

    fn directs_the_runner(&self) -> bool {
        TypedModule::directs_the_runner(self)
    }

    fn includes_vars(&self) -> bool {
        TypedModule::includes_vars(self)
    }

    fn shows_result(&self) -> bool {
        TypedModule::shows_result(self)
    }

    fn tolerates_undefined(&self) -> &'static [&'static str] {
        TypedModule::tolerates_undefined(self)
    }

    fn check_args(&self, raw: &Value, ctx: &StaticCtx<'_>) -> Result<(), ArgError> {
        let args = self.parse(raw)?;
        self.check(&args, raw)?;
        self.check_static(&args, raw, ctx)
    }

    fn defines_vars(&self, raw: &Value) -> Vec<String> {
        self.parse(raw)
            .map(|a| TypedModule::defines_vars(self, &a))
            .unwrap_or_default()
    }

    fn template_files(&self, raw: &Value) -> Vec<String> {
        self.parse(raw)
            .map(|a| TypedModule::template_files(self, &a))
            .unwrap_or_default()
    }

    fn lb_changes(&self, raw: &Value) -> Vec<LbChange> {
        self.parse(raw)
            .map(|a| TypedModule::lb_changes(self, &a))
            .unwrap_or_default()
    }

    fn lb_endpoints(&self, raw: &Value) -> Vec<Endpoint> {
        self.parse(raw)
            .map(|a| TypedModule::lb_endpoints(self, &a))
            .unwrap_or_default()
    }

    async fn run(&self, ctx: &ModuleCtx<'_>, raw: &Value) -> Result<ModuleResult, HostError> {
        let parsed = self.parse(raw).and_then(|a| {
            self.check(&a, raw)?;
            self.check_rendered(&a)?;
            Ok(a)
        });
        let outcome = match parsed {
            Ok(args) => TypedModule::run(self, ctx, args).await,
            Err(e) => Err(e.into()),
        };
        match outcome {
            Ok(result) => Ok(result),
            Err(Failure::Task(msg)) => Ok(ModuleResult::failed(msg)),
            Err(Failure::Host(e)) => Err(e),
        }
    }
}

pub struct Registry {
    modules: Vec<Box<dyn Module>>,
}

impl Registry {
    /// The module for a name as users write it: `shell`, `ansible.builtin.shell`,
    /// `community.general.haproxy`. Aliases (`yum`, `dnf`, `apt` -> `package`) resolve too.
    pub fn get(&self, name: &str) -> Option<&dyn Module> {
        let short = canonical_name(name);
        self.modules
            .iter()
            .find(|m| m.name() == short || m.aliases().contains(&short))
            .map(|m| m.as_ref())
    }

    /// Every name a task may use, aliases included (for "did you mean").
    pub fn names(&self) -> impl Iterator<Item = &'static str> + '_ {
        self.modules
            .iter()
            .flat_map(|m| std::iter::once(m.name()).chain(m.aliases().iter().copied()))
    }
}

/// Collections whose modules zdd implements under their short names: `ansible.builtin.shell`
/// -> `shell`, `community.general.haproxy` -> `haproxy`. A name in any other namespace
/// (`foo.bar.copy`) is somebody else's module and stays whole, so it goes through Ansible
/// rather than to zdd's `copy`.
const NATIVE_NAMESPACES: &[&str] = &[
    "ansible.builtin.",
    "ansible.legacy.",
    "ansible.posix.",
    "community.general.",
];

/// `ansible.builtin.shell` -> `shell`; `foo.bar.copy` stays as it is.
pub fn canonical_name(name: &str) -> &str {
    NATIVE_NAMESPACES
        .iter()
        .find_map(|ns| name.strip_prefix(ns))
        .unwrap_or(name)
}

/// The name a task keeps for its module: the short name of a module zdd runs, else the
/// name as written (a module for Ansible to run: `community.docker.docker_container`).
pub fn task_module_name(name: &str) -> &str {
    match registry().get(name) {
        Some(_) => canonical_name(name),
        None => name,
    }
}

/// An action of ansible-core written by its full name (`ansible.builtin.import_tasks`,
/// `ansible.legacy.include_role`) -> the short name the parser matches on; any other name
/// is returned as it is.
pub fn builtin_name(name: &str) -> &str {
    name.strip_prefix("ansible.builtin.")
        .or_else(|| name.strip_prefix("ansible.legacy."))
        .unwrap_or(name)
}

/// Every module zdd knows. Adding one: a new file and a line here.
pub fn registry() -> &'static Registry {
    static REGISTRY: std::sync::OnceLock<Registry> = std::sync::OnceLock::new();
    REGISTRY.get_or_init(|| Registry {
        modules: vec![
            Box::new(shell::Shell),
            Box::new(command::Command),
            Box::new(template::Template),
            Box::new(copy::Copy),
            Box::new(file::File),
            Box::new(service::Service),
            Box::new(package::Package),
            Box::new(debug::Debug),
            Box::new(fail::Fail),
            Box::new(assert::Assert),
            Box::new(meta::Meta),
            Box::new(pause::Pause),
            Box::new(haproxy::HaproxyModule),
            Box::new(set_fact::SetFact),
            Box::new(wait_for::WaitFor),
            Box::new(setup::Setup),
            Box::new(uri::Uri),
            Box::new(add_host::AddHost),
            Box::new(group_by::GroupBy),
            Box::new(stat::Stat),
            Box::new(script::Script),
            Box::new(synchronize::Synchronize),
            Box::new(get_url::GetUrl),
            Box::new(git::Git),
            Box::new(unarchive::Unarchive),
            Box::new(include_tasks::IncludeTasks),
            Box::new(include_role::IncludeRole),
            Box::new(include_vars::IncludeVars),
            Box::new(async_status::AsyncStatus),
            Box::new(group::Group),
            Box::new(apt_repository::AptRepository),
            Box::new(raw::Raw),
            Box::new(ping::Ping),
            Box::new(wait_for_connection::WaitForConnection),
            Box::new(reboot::Reboot),
            Box::new(lineinfile::LineInFile),
            Box::new(blockinfile::BlockInFile),
            Box::new(replace::Replace),
            Box::new(user::User),
            Box::new(systemd::Systemd),
            Box::new(slurp::Slurp),
            Box::new(tempfile::TempFile),
            Box::new(fetch::Fetch),
            Box::new(find::Find),
            Box::new(authorized_key::AuthorizedKey),
            Box::new(getent::Getent),
            Box::new(package_facts::PackageFacts),
            Box::new(service_facts::ServiceFacts),
            Box::new(yum_repository::YumRepository),
            Box::new(sysctl::Sysctl),
            Box::new(apt_key::AptKey),
            Box::new(nginx_upstream::NginxUpstream),
            Box::new(pip::Pip),
            Box::new(mount::Mount),
            Box::new(hostname::Hostname),
            Box::new(cron::Cron),
        ],
    })
}

/// Find a local file the way Ansible does for a playbook: `dir/templates/NAME` (or
/// `files/NAME`), then `dir/NAME`, then the same one level up (so `playbooks/x.yml`
/// finds the top-level `templates/`). Absolute paths are taken as they are.
pub fn find_local_file(
    playbook_dir: &Path,
    role_path: Option<&Path>,
    subdir: &str,
    name: &str,
) -> Option<std::path::PathBuf> {
    let p = Path::new(name);
    if p.is_absolute() {
        return p.is_file().then(|| p.to_path_buf());
    }
    let mut candidates = Vec::new();
    if let Some(role) = role_path {
        // Ansible looks in the role's folder (`templates/`, `files/`), the role itself and
        // its `tasks/`, before the playbook's.
        candidates.extend([
            role.join(subdir).join(p),
            role.join(p),
            role.join("tasks").join(p),
        ]);
    }
    candidates.extend([playbook_dir.join(subdir).join(p), playbook_dir.join(p)]);
    if let Some(parent) = playbook_dir.parent() {
        candidates.push(parent.join(subdir).join(p));
        candidates.push(parent.join(p));
    }
    candidates.into_iter().find(|c| c.is_file())
}

#[cfg(test)]
mod live_tests;

#[cfg(test)]
mod check_tests;
