//! Modules: one file each, behind the `Module` trait, listed in `registry()`.
//!
//! A module turns its (already templated) arguments into shell commands and files on the
//! host, and reports what it did. No Python on targets: only POSIX sh and coreutils.

use crate::host::{Become, Host};
use crate::template::Templater;
use crate::vars::{Context, VarMap};
use async_trait::async_trait;
use serde_json::{Map, Value};
use std::path::Path;

pub mod add_host;
pub mod args;
mod assert;
mod command;
mod copy;
mod debug;
mod fail;
mod file;
mod group_by;
mod haproxy;
pub mod meta;
mod package;
mod pause;
mod put;
mod service;
mod set_fact;
pub mod setup;
mod shell;
mod template;
mod uri;
mod wait_for;

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
}

#[async_trait]
pub trait Module: Send + Sync {
    fn name(&self) -> &'static str;

    /// Accepts free-form text (`shell: echo hi`), kept under `_raw_params`.
    fn free_form(&self) -> bool {
        false
    }

    /// Other names for this module (`yum`, `dnf`, `apt` for `package`).
    fn aliases(&self) -> &'static [&'static str] {
        &[]
    }

    /// Runs on the controller only, never on a host (`debug`, `set_fact`, `fail`).
    fn controller_only(&self) -> bool {
        false
    }

    /// Check the raw arguments before anything runs: unknown or missing keys, bad
    /// choices, a `src` file that does not exist. Values holding `{{ }}` are not final
    /// yet and must be accepted here if they could become valid.
    fn check_args(&self, args: &Value, ctx: &StaticCtx<'_>) -> Result<(), ArgError>;

    /// Run with templated arguments.
    async fn run(&self, ctx: &ModuleCtx<'_>, args: &Value) -> Result<ModuleResult, crate::host::HostError>;
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

/// `ansible.builtin.shell` -> `shell`.
pub fn canonical_name(name: &str) -> &str {
    name.rsplit('.').next().unwrap_or(name)
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
            Box::new(haproxy::Haproxy),
            Box::new(set_fact::SetFact),
            Box::new(wait_for::WaitFor),
            Box::new(setup::Setup),
            Box::new(uri::Uri),
            Box::new(add_host::AddHost),
            Box::new(group_by::GroupBy),
        ],
    })
}

/// Find a local file the way Ansible does for a playbook: `dir/templates/NAME` (or
/// `files/NAME`), then `dir/NAME`, then the same one level up (so `playbooks/x.yml`
/// finds the top-level `templates/`). Absolute paths are taken as they are.
pub fn find_local_file(playbook_dir: &Path, subdir: &str, name: &str) -> Option<std::path::PathBuf> {
    let p = Path::new(name);
    if p.is_absolute() {
        return p.is_file().then(|| p.to_path_buf());
    }
    let mut candidates = vec![playbook_dir.join(subdir).join(p), playbook_dir.join(p)];
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
