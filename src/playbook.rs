//! The playbook model: what a parsed, Ansible-compatible playbook means.
//!
//! `parse` (in `parse.rs`) builds it from YAML; `validate` checks it; `plan` and the
//! runner consume it. Strings that may hold templates are kept raw here.

use crate::error::Location;
use crate::vars::VarMap;
use indexmap::IndexMap;
use serde_json::Value;
use std::path::{Path, PathBuf};
use std::sync::Arc;

#[derive(Debug, Clone)]
pub struct Playbook {
    pub path: PathBuf,
    /// `playbook_dir`: templates and files are looked up relative to it (then `templates/`,
    /// `files/`, and the same folders one level up).
    pub dir: PathBuf,
    pub plays: Vec<Play>,
}

#[derive(Debug, Clone)]
pub struct Play {
    pub loc: Location,
    pub name: Option<String>,
    /// A host pattern: `webservers`, `a:b`, `a:&b`, `a:!b`, `web*`, `all`.
    pub hosts: String,
    /// Batch sizes; empty means all hosts in one batch. The last one repeats.
    pub serial: Vec<Serial>,
    pub privilege: BecomeOpts,
    pub gather_facts: bool,
    /// `fact_path` for the implicit fact gathering (`setup`'s argument, rendered when it
    /// runs, as Ansible passes it on).
    pub fact_path: Option<serde_json::Value>,
    pub vars: VarMap,
    /// Files listed in `vars_files`, already loaded and merged in order.
    pub vars_files: Vec<PathBuf>,
    pub pre_tasks: Vec<Task>,
    pub tasks: Vec<Task>,
    pub post_tasks: Vec<Task>,
    pub handlers: Vec<Task>,
    pub max_fail_percentage: Option<f64>,
    pub any_errors_fatal: bool,
    pub force_handlers: bool,
    /// `connection: local` on the play.
    pub connection: Option<String>,
    /// `order`: `inventory` (None), `reverse_inventory`, `sorted`, `reverse_sorted`,
    /// `shuffle`.
    pub order: Option<String>,
    /// The play's own `tags` (its tasks already carry them too).
    pub tags: Vec<String>,
    /// The roles of `roles:` and of `import_role`s, in order: their defaults and `vars/`
    /// are seen by every task of the play, as in Ansible.
    pub roles: Vec<Arc<RoleRef>>,
    /// Play keywords written as templates (`serial: "{{ batch }}"`, `gather_facts`,
    /// `force_handlers`, `max_fail_percentage`): rendered with the play's vars and `-e`
    /// before any host is touched (`plan::render_play_keywords`), as Ansible does.
    pub templated: Vec<TemplatedKeyword>,
    /// `remote_user`, `port`, `environment`, `module_defaults`, `timeout` on the play (its
    /// tasks already carry them too; the implicit fact gathering takes them from here).
    pub run: RunKeywords,
    /// `vars_prompt`: asked before the play, unless `-e` gives the value.
    pub prompts: Vec<VarPrompt>,
    /// The `when` of the `import_playbook` that brought this play in: its tasks carry it
    /// already; fact gathering is skipped by it too.
    pub when: Vec<String>,
}

/// One `vars_prompt` entry.
#[derive(Debug, Clone, PartialEq)]
pub struct VarPrompt {
    pub loc: Location,
    pub name: String,
    /// The question shown (`prompt`), the variable name if none.
    pub prompt: Option<String>,
    /// `private` (default true): the answer is not echoed.
    pub private: bool,
    pub default: Option<Value>,
    /// `confirm`: asked twice, must match.
    pub confirm: bool,
    /// `unsafe`: the answer is not templated.
    pub unsafe_: bool,
}

/// Keywords that shape how a task runs on its host, settable on the play, a block and
/// the task; a task carries its parents' values already merged (`inherit`).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct RunKeywords {
    /// `remote_user` (raw, may be templated): used where the inventory sets no `ansible_user`.
    pub remote_user: Option<String>,
    /// `port` (raw, may be templated): used where the inventory sets no `ansible_port`.
    pub port: Option<String>,
    /// `environment` layers, outermost first (play, blocks, task): each a mapping or a
    /// template that renders to one; later layers win key by key.
    pub environment: Vec<Value>,
    /// `module_defaults` layers, outermost first: each a mapping (or a list of them) from
    /// module name, FQCN or `group/NAME` to arguments.
    pub module_defaults: Vec<Value>,
    /// `timeout`: seconds a task may run before it fails (raw, may be templated).
    pub timeout: Option<Value>,
}

impl RunKeywords {
    /// These keywords with `parent`'s: scalars fill the gaps, layered ones go parent first.
    pub fn inherit(&self, parent: &RunKeywords) -> RunKeywords {
        let layered =
            |mine: &[Value], theirs: &[Value]| -> Vec<Value> { theirs.iter().chain(mine).cloned().collect() };
        RunKeywords {
            remote_user: self.remote_user.clone().or_else(|| parent.remote_user.clone()),
            port: self.port.clone().or_else(|| parent.port.clone()),
            environment: layered(&self.environment, &parent.environment),
            module_defaults: layered(&self.module_defaults, &parent.module_defaults),
            timeout: self.timeout.clone().or_else(|| parent.timeout.clone()),
        }
    }
}

impl Play {
    /// The display name: `name`, or the hosts pattern as Ansible prints it.
    pub fn display_name(&self) -> &str {
        self.name.as_deref().unwrap_or(&self.hosts)
    }

    /// The three task sections in the order they run.
    pub fn sections(&self) -> [(Section, &[Task]); 3] {
        [
            (Section::PreTasks, &self.pre_tasks),
            (Section::Tasks, &self.tasks),
            (Section::PostTasks, &self.post_tasks),
        ]
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Section {
    PreTasks,
    Tasks,
    PostTasks,
    Handlers,
}

#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Serial {
    Count(usize),
    /// A percentage of the play's hosts, 0 < p <= 100.
    Percent(f64),
}

/// `become`, `become_method`, `become_user` as written; `None` means inherit.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct BecomeOpts {
    pub enabled: Option<bool>,
    pub method: Option<String>,
    pub user: Option<String>,
}

impl BecomeOpts {
    /// These options, with `parent`'s filling the gaps.
    pub fn inherit(&self, parent: &BecomeOpts) -> BecomeOpts {
        BecomeOpts {
            enabled: self.enabled.or(parent.enabled),
            method: self.method.clone().or_else(|| parent.method.clone()),
            user: self.user.clone().or_else(|| parent.user.clone()),
        }
    }
}

#[derive(Debug, Clone)]
pub struct Task {
    pub loc: Location,
    pub name: Option<String>,
    /// Canonical module name: `ansible.builtin.shell` and `shell` are both `shell`.
    pub module: String,
    pub module_loc: Location,
    /// Module arguments as a JSON object. Free-form text (`shell: echo hi`) is under
    /// `_raw_params`, as in Ansible; `key=value` text is split into keys.
    pub args: Value,
    /// Where each argument key was written, for error messages.
    pub arg_locs: IndexMap<String, Location>,
    /// Where each task keyword (`notify`, `when`, `delegate_to`...) was written.
    pub keyword_locs: IndexMap<String, Location>,
    pub delegate_to: Option<String>,
    pub delegate_facts: bool,
    pub run_once: bool,
    pub loop_: Option<Loop>,
    pub loop_control: LoopControl,
    /// Conditions, all of which must hold (a YAML list is an `and`).
    pub when: Vec<String>,
    pub register: Option<String>,
    pub until: Option<String>,
    /// Raw, may be templated; Ansible's defaults are 3 retries, 5 s delay when `until` is set.
    pub retries: Option<Value>,
    pub delay: Option<Value>,
    pub notify: Vec<String>,
    /// Handlers only: extra topics this handler answers to.
    pub listen: Vec<String>,
    pub privilege: BecomeOpts,
    /// Raw bool or template.
    pub ignore_errors: Option<Value>,
    pub ignore_unreachable: bool,
    pub changed_when: Option<Vec<String>>,
    pub failed_when: Option<Vec<String>>,
    pub vars: VarMap,
    pub tags: Vec<String>,
    pub no_log: bool,
    pub check_mode: Option<bool>,
    pub connection: Option<String>,
    /// `any_errors_fatal` on the task (or its block): a failure here ends the play for
    /// every host, as the play keyword does.
    pub any_errors_fatal: bool,
    /// `throttle`: at most this many hosts run the task at once (raw, may be templated).
    pub throttle: Option<Value>,
    /// `remote_user`, `port`, `environment`, `module_defaults`, `timeout`, its parents' merged in.
    pub run: RunKeywords,
    /// `async`: run in the background for at most this many seconds (raw, may be templated).
    pub async_: Option<Value>,
    /// `poll`: seconds between checks of an `async` task; 0 is fire and forget.
    pub poll: Option<Value>,
    /// `block:`: this task is a block (its `module` is `block`); the block's keywords
    /// (`when`, `vars`, `tags`, `become`...) are already inherited by its tasks.
    pub block: Option<Box<Block>>,
    /// `include_tasks`: this task loads a file of tasks at run time, per host.
    pub include: Option<Box<Include>>,
    /// A task loaded by `include_tasks`: the include's `vars` and loop variable, at
    /// Ansible's "include params" precedence (above `set_fact`, below extra vars).
    pub include_params: Option<std::sync::Arc<VarMap>>,
    /// How the file this task was written in was reached (imports, includes, its role).
    pub origin: Arc<IncludeChain>,
    /// Keywords written as templates (`no_log: "{{ quiet }}"`): the fields above hold their
    /// defaults until the runner renders these per host, as Ansible's post_validate does.
    pub templated: Vec<TemplatedKeyword>,
}

/// What an `include_tasks` passes to the tasks it loads. Its own `when`, `tags` and other
/// keywords select the include only (a dynamic include is skipped as a parent, as in
/// Ansible); the tasks take the keywords of the blocks around it and those of `apply`.
#[derive(Debug, Clone)]
pub struct Include {
    /// The include's own `vars` (the blocks' around it are in `parents`).
    pub vars: VarMap,
    /// The keywords of the blocks and play around the include, gathered as they pass down.
    pub parents: Task,
    /// `apply:` keywords, given to every included task.
    pub apply: Option<Task>,
    /// For `include_role`: the role, loaded when the playbook was read.
    pub role: Option<Arc<IncludedRole>>,
}

/// The role an `include_role` runs: its tasks (its dependencies' first), ready to run
/// for each host that reaches the include.
#[derive(Debug, Clone)]
pub struct IncludedRole {
    pub role: Arc<RoleRef>,
    pub tasks: Vec<Task>,
    /// `public: true`: its defaults and `vars/` are seen by the later tasks of the play
    /// on the hosts that included it.
    pub public: bool,
}

/// The imports and includes that led to a file of tasks (`included from site.yml:12:5`),
/// the role the file belongs to, and the playbook directory relative task files fall back
/// to. Errors found in the file print the chain under them.
#[derive(Debug, Clone, Default)]
pub struct IncludeChain {
    /// Outermost first: the playbook's own statement, then each nested one.
    frames: Vec<IncludeFrame>,
    /// The file the chain starts from (the playbook).
    root: Option<PathBuf>,
    /// `playbook_dir`: where a relative task file is looked for last.
    pub playbook_dir: PathBuf,
    /// The role whose tasks or handlers these are.
    pub role: Option<Arc<RoleRef>>,
}

/// One import or include: where it was written, and the file it loads.
#[derive(Debug, Clone, PartialEq)]
pub struct IncludeFrame {
    pub at: Location,
    pub file: PathBuf,
}

impl IncludeChain {
    /// The chain of the playbook file itself: no frames.
    pub fn new(playbook: &Path, playbook_dir: &Path) -> Self {
        IncludeChain {
            frames: Vec::new(),
            root: Some(playbook.to_path_buf()),
            playbook_dir: playbook_dir.to_path_buf(),
            role: None,
        }
    }

    /// The chain of `file`, loaded by a statement written at `at`.
    pub fn include(&self, at: Location, file: &Path) -> IncludeChain {
        let mut next = self.clone();
        next.frames.push(IncludeFrame {
            at,
            file: file.to_path_buf(),
        });
        next
    }

    /// The same chain, for the files of `role`.
    pub fn in_role(&self, role: Arc<RoleRef>) -> IncludeChain {
        IncludeChain {
            role: Some(role),
            ..self.clone()
        }
    }

    /// Outermost first.
    pub fn frames(&self) -> &[IncludeFrame] {
        &self.frames
    }

    /// The file this chain leads to (its last frame's, or the playbook).
    pub fn file(&self) -> Option<&Path> {
        self.frames
            .last()
            .map(|f| f.file.as_path())
            .or(self.root.as_deref())
    }

    /// Where the statements that led here were written, innermost first: what an error
    /// found in the file prints as `included from ...`.
    pub fn locations(&self) -> Vec<Location> {
        self.frames.iter().rev().map(|f| f.at.clone()).collect()
    }

    /// `a.yml -> b.yml -> a.yml` when loading `file` again would never end.
    pub fn cycle(&self, file: &Path) -> Option<String> {
        let same = |p: &Path| p == file;
        let files: Vec<&Path> = self
            .root
            .iter()
            .map(PathBuf::as_path)
            .chain(self.frames.iter().map(|f| f.file.as_path()))
            .collect();
        let start = files.iter().position(|p| same(p))?;
        let mut names: Vec<String> = files[start..]
            .iter()
            .map(|p| crate::error::display_path(p))
            .collect();
        names.push(crate::error::display_path(file));
        Some(names.join(" -> "))
    }
}

/// A role as a task sees it: its name and directory, its variables at each level of
/// Ansible's precedence, and the roles that pulled it in (for `ansible_parent_role_names`).
#[derive(Debug, Clone, Default)]
pub struct RoleRef {
    pub name: String,
    /// The role's directory, absolute (`role_path`).
    pub path: PathBuf,
    /// `defaults/`, with the defaults of its dependencies under them: lowest precedence.
    pub defaults: VarMap,
    /// `vars/` and the `vars:` of the line that named it (with its parents' under them):
    /// above play vars.
    pub vars: VarMap,
    /// Role parameters (the other keys of the line that named it): above `set_fact`.
    pub params: VarMap,
    /// What every task of the play sees of this role: its defaults and its dependencies'.
    pub exported_defaults: VarMap,
    /// What every task of the play sees of this role: `vars/`, its dependencies' too.
    pub exported_vars: VarMap,
    /// Every role it depends on, directly or not (for `ansible_role_names`).
    pub dependencies: Vec<String>,
    /// `ansible_parent_role_names`: for a role imported by another role's task, that
    /// role first, then its own parents.
    pub parents: Vec<String>,
    /// Which naming of the role this is, to run it once per host as Ansible does.
    pub instance: RoleInstance,
}

/// A role named twice in a play with the same parameters, `when`, `tags` and `vars` is
/// the same role: unless its meta allows duplicates, its tasks are skipped (silently) for
/// a host where an earlier naming of it already ran a task that was not skipped.
#[derive(Debug, Clone, Default)]
pub struct RoleInstance {
    /// What makes two namings the same role (unique across plays).
    pub key: Arc<str>,
    /// 0 for the first naming in the play, then 1, 2...
    pub nth: usize,
    pub allow_duplicates: bool,
}

/// A keyword whose value is a template, decided when it is known: a play's before any
/// host is touched, a task's on each host just before the task runs there.
#[derive(Debug, Clone, PartialEq)]
pub struct TemplatedKeyword {
    pub key: String,
    /// As written: a string holding a template, or a list holding some (`serial`).
    pub value: Value,
    pub loc: Location,
}

impl Task {
    /// The template written for `key`, if that keyword is templated.
    pub fn templated(&self, key: &str) -> Option<&TemplatedKeyword> {
        self.templated.iter().find(|t| t.key == key)
    }
}

/// `block` / `rescue` / `always`.
#[derive(Debug, Clone, Default)]
pub struct Block {
    pub tasks: Vec<Task>,
    pub rescue: Vec<Task>,
    pub always: Vec<Task>,
}

/// Every task of a list, the tasks of blocks in their place (the blocks themselves left
/// out), in the order they were written.
pub fn flatten(tasks: &[Task]) -> Vec<&Task> {
    let mut out = Vec::new();
    for task in tasks {
        match &task.block {
            Some(b) => {
                out.extend(flatten(&b.tasks));
                out.extend(flatten(&b.rescue));
                out.extend(flatten(&b.always));
            }
            None => out.push(task),
        }
    }
    out
}

impl Task {
    /// What Ansible prints in `TASK [...]`: the name, or the module name, after the role's
    /// name for a task of a role (`common : Install ntp`).
    pub fn display_name(&self) -> String {
        let own = self.name.as_deref().unwrap_or(&self.module);
        // Ansible names an `include_role` without the role it is written in.
        match self.role().filter(|_| self.module != "include_role") {
            Some(role) => format!("{} : {own}", role.name),
            None => own.to_owned(),
        }
    }

    /// The directory of the playbook this task was written for (an imported playbook's
    /// own), where relative `src` files are looked for; `fallback` when unknown.
    pub fn playbook_dir<'a>(&'a self, fallback: &'a Path) -> &'a Path {
        if self.origin.playbook_dir.as_os_str().is_empty() {
            fallback
        } else {
            &self.origin.playbook_dir
        }
    }

    /// The role this task belongs to.
    pub fn role(&self) -> Option<&RoleRef> {
        self.origin.role.as_deref()
    }
}

#[derive(Debug, Clone, PartialEq)]
pub enum Loop {
    /// `with_items`: flattens one level of lists.
    WithItems(Value),
    /// `loop`: the list as given.
    Loop(Value),
    /// `with_dict`: a mapping, as `{key, value}` items.
    WithDict(Value),
    /// `with_indexed_items`: `[index, item]` pairs of the flattened list.
    WithIndexedItems(Value),
    /// `with_sequence`: `start=1 end=5 stride=1 format=%d` or `count=N`, as strings.
    WithSequence(Value),
    /// `with_nested`/`with_cartesian`: every combination of the lists, as lists.
    WithNested(Value),
    /// `with_together`: the lists zipped, shorter ones padded with null.
    WithTogether(Value),
    /// `with_subelements`: `[list, "key"]` or `[list, "key", {skip_missing: true}]`.
    WithSubelements(Value),
    /// `with_fileglob`: files on the controller matching the patterns.
    WithFileglob(Value),
    /// `with_first_found`: the first file that exists (`files`/`paths`, or a list), looked
    /// for in this folder of the playbook's (`templates`, `vars` or `files`, from the module).
    WithFirstFound(Value, String),
    /// `with_lines`: each line a command prints on the controller.
    WithLines(Value),
}

impl Loop {
    /// The raw value after the loop keyword.
    pub fn value(&self) -> &Value {
        match self {
            Loop::WithItems(v)
            | Loop::Loop(v)
            | Loop::WithDict(v)
            | Loop::WithIndexedItems(v)
            | Loop::WithSequence(v)
            | Loop::WithNested(v)
            | Loop::WithTogether(v)
            | Loop::WithSubelements(v)
            | Loop::WithFileglob(v)
            | Loop::WithFirstFound(v, _)
            | Loop::WithLines(v) => v,
        }
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct LoopControl {
    pub loop_var: String,
    pub index_var: Option<String>,
    pub label: Option<String>,
    pub pause: Option<f64>,
}

impl Default for LoopControl {
    fn default() -> Self {
        LoopControl {
            loop_var: "item".into(),
            index_var: None,
            label: None,
            pause: None,
        }
    }
}
