//! Everything that can be checked before any host is touched: modules and their
//! arguments, handlers named by `notify`, templates that exist and parse, variables that
//! something could define.

use crate::error::{did_you_mean, Diagnostic, Error, Location};

mod includes;
use crate::inventory::Inventory;
use crate::modules::via_ansible::{self, Foreign};
use crate::modules::{find_local_file, registry, StaticCtx};
use crate::parse::TASK_KEYWORDS;
use crate::playbook::{Play, Playbook, Task};
use crate::template::{TemplateError, Templater};
use crate::vars::VarMap;
use serde_json::Value;
use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::path::Path;

/// Variables Ansible defines for every host.
pub const MAGIC_VARS: &[&str] = &[
    "inventory_hostname",
    "inventory_hostname_short",
    "groups",
    "group_names",
    "hostvars",
    "play_hosts",
    "ansible_play_hosts",
    "ansible_play_hosts_all",
    "ansible_play_batch",
    "ansible_play_name",
    "playbook_dir",
    "inventory_dir",
    "ansible_search_path",
    "inventory_file",
    "ansible_check_mode",
    "ansible_diff_mode",
    "ansible_version",
    "ansible_forks",
    "omit",
    "ansible_loop",
    "ansible_loop_var",
    "ansible_index_var",
    "ansible_failed_task",
    "ansible_failed_result",
    "role_path",
    "environment",
];

/// Facts zdd gathers when `gather_facts` is on.
pub const FACT_VARS: &[&str] = &[
    "ansible_facts",
    "ansible_hostname",
    "ansible_fqdn",
    "ansible_os_family",
    "ansible_distribution",
    "ansible_distribution_version",
    "ansible_distribution_major_version",
    "ansible_default_ipv4",
    "ansible_all_ipv4_addresses",
    "ansible_nodename",
    "ansible_architecture",
    "ansible_kernel",
    "ansible_pkg_mgr",
    "ansible_service_mgr",
];

/// Check the playbook against the inventory; every problem found, not just the first.
pub fn validate(
    playbook: &Playbook,
    inventory: &Inventory,
    extra_vars: &VarMap,
    templater: &Templater,
) -> Result<(), Error> {
    let mut diags = Vec::new();
    let mut plays = Vec::new();
    for play in &playbook.plays {
        match inventory.select(&play.hosts) {
            Ok(hosts) => {
                let mut names = BTreeSet::new();
                for h in &hosts {
                    names.extend(inventory.host_vars(h).into_keys());
                }
                plays.push(PlayInventory {
                    has_hosts: !hosts.is_empty(),
                    var_names: names,
                });
            }
            Err(why) => {
                diags.push(
                    Diagnostic::new(format!("bad host pattern `{}`: {why}", play.hosts))
                        .at(play.loc.clone())
                        .with_snippet_from_disk(),
                );
                plays.push(PlayInventory {
                    has_hosts: false,
                    var_names: BTreeSet::new(),
                });
            }
        }
    }
    diags.extend(check(playbook, &plays, extra_vars, templater));
    if diags.is_empty() {
        Ok(())
    } else {
        Err(Error::Invalid(diags))
    }
}

/// What the inventory gives a play: whether it selects any host, and the variable names
/// its hosts have (host and group vars).
#[derive(Debug, Clone, Default)]
pub struct PlayInventory {
    pub has_hosts: bool,
    pub var_names: BTreeSet<String>,
}

/// How the validator learns which variables a template reads.
pub trait ReadsVariables {
    fn template(&self, text: &str) -> Result<BTreeSet<String>, TemplateError>;
    fn expression(&self, expr: &str) -> Result<BTreeSet<String>, TemplateError>;

    /// Render a value whose template reads nothing but `vars` (`-e` values, which nothing
    /// overrides): `None` when this reader cannot render.
    fn render_with(&self, _value: &Value, _vars: &VarMap) -> Option<Result<Value, TemplateError>> {
        None
    }
}

impl ReadsVariables for Templater {
    fn render_with(&self, value: &Value, vars: &VarMap) -> Option<Result<Value, TemplateError>> {
        let mut ctx = crate::vars::Context::new();
        ctx.push(std::sync::Arc::new(vars.clone()));
        Some(self.render_value(value, &ctx))
    }

    fn template(&self, text: &str) -> Result<BTreeSet<String>, TemplateError> {
        self.variables_read(text)
    }

    fn expression(&self, expr: &str) -> Result<BTreeSet<String>, TemplateError> {
        self.expr_variables_read(expr)
    }
}

/// Where a variable could come from, for the hint of an undefined one.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Origin {
    Magic,
    Fact,
    Inventory,
    ExtraVars,
    PlayVars,
    Registered,
    TaskVars,
    LoopVar,
    /// Proved defined by the task's `when` (`x is defined`).
    Guarded,
}

/// The variables visible in one place, each with where it comes from.
#[derive(Debug, Clone, Default)]
struct Scope {
    names: BTreeMap<String, Origin>,
    anything: bool,
}

impl Scope {
    fn add<'a>(&mut self, names: impl IntoIterator<Item = &'a str>, origin: Origin) {
        for n in names {
            self.names.insert(n.to_owned(), origin);
        }
    }

    fn defines(&self, name: &str) -> bool {
        self.anything || self.names.contains_key(name) || name.starts_with("ansible_")
    }

    /// A scope where every name counts as defined: only syntax is checked.
    fn anything() -> Scope {
        Scope {
            anything: true,
            ..Scope::default()
        }
    }
}

/// The checks, given what the inventory says about each play (one entry per play).
pub fn check(
    playbook: &Playbook,
    plays: &[PlayInventory],
    extra_vars: &VarMap,
    reader: &dyn ReadsVariables,
) -> Vec<Diagnostic> {
    let scans: Vec<includes::IncludeScan> = playbook
        .plays
        .iter()
        .map(|play| includes::scan(play, &playbook.dir, extra_vars))
        .collect();
    let mut v = Validator {
        reader,
        playbook_dir: &playbook.dir,
        extra_vars,
        diags: Vec::new(),
        foreign: foreign_modules(playbook, &scans),
    };
    let mut earlier_registered: BTreeSet<String> = BTreeSet::new();
    // An include that could not be read may have defined anything, for later plays too.
    let mut open = false;
    for ((i, play), included) in playbook.plays.iter().enumerate().zip(scans) {
        let inv = plays.get(i).cloned().unwrap_or_default();
        let mut scope = Scope::default();
        scope.add(MAGIC_VARS.iter().copied(), Origin::Magic);
        if play.gather_facts {
            scope.add(FACT_VARS.iter().copied(), Origin::Fact);
        }
        scope.add(inv.var_names.iter().map(String::as_str), Origin::Inventory);
        scope.add(play.vars.keys().map(String::as_str), Origin::PlayVars);
        // Every role of the play gives each task its defaults and `vars/`.
        for role in &play.roles {
            let exported = role.exported_defaults.keys().chain(role.exported_vars.keys());
            scope.add(exported.map(String::as_str), Origin::PlayVars);
        }
        scope.add(crate::runner::ROLE_PLAY_VARS.iter().copied(), Origin::Magic);
        scope.add(play.prompts.iter().map(|p| p.name.as_str()), Origin::PlayVars);
        scope.add(extra_vars.keys().map(String::as_str), Origin::ExtraVars);
        v.diags.extend(included.diags);
        open |= included.open;
        let mut registered = registered_names(play);
        registered.extend(included.defined);
        scope.add(earlier_registered.iter().map(String::as_str), Origin::Registered);
        scope.add(registered.iter().map(String::as_str), Origin::Registered);
        earlier_registered.extend(registered);
        v.play(play, &included.tasks, &scope, inv.has_hosts && !open);
    }
    v.diags
}

/// The modules of the run that zdd does not have, as Ansible knows them: one
/// `ansible-doc` call for all of them, with the `library/` directories of the project and
/// its roles.
fn foreign_modules(playbook: &Playbook, scans: &[includes::IncludeScan]) -> HashMap<String, Foreign> {
    let mut names = BTreeSet::new();
    let mut library: Vec<std::path::PathBuf> = Vec::new();
    for (play, scan) in playbook.plays.iter().zip(scans) {
        let tasks = play
            .sections()
            .into_iter()
            .flat_map(|(_, t)| crate::playbook::flatten(t))
            .chain(crate::playbook::flatten(&play.handlers))
            .chain(&scan.tasks);
        for task in tasks {
            if task.block.is_some() || registry().get(&task.module).is_some() {
                continue;
            }
            names.insert(task.module.clone());
            let dirs = via_ansible::library_dirs(
                task.playbook_dir(&playbook.dir),
                task.role().map(|r| r.path.as_path()),
            );
            for dir in dirs {
                if !library.contains(&dir) {
                    library.push(dir);
                }
            }
        }
    }
    if names.is_empty() {
        return HashMap::new();
    }
    via_ansible::describe(&names, &library)
}

/// Every `register` name and `set_fact` key of a play.
fn registered_names(play: &Play) -> BTreeSet<String> {
    let mut names = BTreeSet::new();
    let all = play
        .sections()
        .into_iter()
        .flat_map(|(_, t)| crate::playbook::flatten(t))
        .chain(crate::playbook::flatten(&play.handlers));
    for task in all {
        names.extend(task.register.clone());
        if let Some(module) = registry().get(&task.module) {
            names.extend(module.defines_vars(&task.args));
        }
    }
    names
}

struct Validator<'a> {
    reader: &'a dyn ReadsVariables,
    playbook_dir: &'a Path,
    extra_vars: &'a VarMap,
    diags: Vec<Diagnostic>,
    /// What Ansible says of each module zdd does not have.
    foreign: HashMap<String, Foreign>,
}

/// One string of a task to check, and how to read it.
enum Text<'t> {
    Template(&'t str),
    Expression(&'t str),
}

impl Validator<'_> {
    fn error(&mut self, message: impl Into<String>, loc: &Location, hint: Option<String>) {
        let mut d = Diagnostic::new(message).at(loc.clone()).with_snippet_from_disk();
        d.hint = hint;
        self.diags.push(d);
    }

    /// A play's tasks and handlers, and the tasks of the files its includes load.
    fn play(&mut self, play: &Play, included: &[Task], scope: &Scope, check_undefined: bool) {
        let mut topics: Vec<&str> = Vec::new();
        // A role's handler answers to `role : name` too.
        let qualified: Vec<String> = crate::playbook::flatten(&play.handlers)
            .into_iter()
            .filter_map(|h| Some(format!("{} : {}", h.role()?.name, h.name.as_ref()?)))
            .collect();
        topics.extend(qualified.iter().map(String::as_str));
        for h in crate::playbook::flatten(&play.handlers) {
            topics.extend(h.name.as_deref());
            topics.extend(h.listen.iter().map(String::as_str));
        }
        let tasks = play
            .sections()
            .into_iter()
            .flat_map(|(_, t)| crate::playbook::flatten(t))
            .chain(crate::playbook::flatten(&play.handlers))
            .chain(included);
        for task in tasks {
            let start = self.diags.len();
            self.module(task);
            self.decided_keywords(task);
            self.notify(task, &topics);
            self.variables(task, scope, check_undefined);
            // A task of an imported or included file says how it was reached.
            let chain = task.origin.locations();
            for d in &mut self.diags[start..] {
                if d.chain.is_empty() {
                    d.chain = chain.clone();
                }
            }
            // In the order they were written (template files after the playbook).
            self.diags[start..].sort_by_key(|d| {
                d.location
                    .as_ref()
                    .map(|l| (l.file != task.loc.file, l.line, l.col))
            });
        }
    }

    fn module(&mut self, task: &Task) {
        let Some(module) = registry().get(&task.module) else {
            self.foreign_module(task);
            return;
        };
        let ctx = StaticCtx {
            playbook_dir: task.playbook_dir(self.playbook_dir),
            role_path: task.role().map(|r| r.path.as_path()),
        };
        if let Err(e) = module.check_args(&task.args, &ctx) {
            let loc = e
                .key
                .as_ref()
                .and_then(|k| task.arg_locs.get(k))
                .unwrap_or(&task.module_loc)
                .clone();
            self.error(format!("`{}`: {}", task.module, e.message), &loc, e.hint);
        }
    }

    /// A module zdd runs through Ansible: Ansible must have it, and its arguments must be
    /// the documented ones.
    fn foreign_module(&mut self, task: &Task) {
        let name = &task.module;
        let typo = || {
            did_you_mean(name, registry().names()).or_else(|| {
                did_you_mean(name, TASK_KEYWORDS.iter().copied())
                    .map(|h| format!("`{name}` is not a module; {h}"))
            })
        };
        match self.foreign.get(name).cloned() {
            Some(Foreign::Documented(doc)) => {
                for e in via_ansible::check_args(name, &doc, &task.args) {
                    let loc = e
                        .key
                        .as_ref()
                        .and_then(|k| task.arg_locs.get(k))
                        .unwrap_or(&task.module_loc)
                        .clone();
                    self.error(format!("`{name}` (via Ansible): {}", e.message), &loc, e.hint);
                }
            }
            Some(Foreign::Library) => {}
            Some(Foreign::NoAnsible) if name.contains('.') || typo().is_none() => {
                self.error(
                    format!(
                        "module `{name}` is not one zdd runs natively, and no Ansible is installed to run it"
                    ),
                    &task.module_loc,
                    Some(via_ansible::install_hint(name)),
                );
            }
            _ => {
                let hint = typo().or_else(|| {
                    via_ansible::collection_of(name).map(|_| {
                        format!(
                            "neither zdd nor Ansible has it; {}",
                            via_ansible::install_hint(name)
                        )
                    })
                });
                self.error(format!("unknown module `{name}`"), &task.module_loc, hint);
            }
        }
    }

    /// A templated keyword that reads nothing a host could change (constants, `-e`
    /// values) is decided now: a value that is no boolean is refused before any host.
    fn decided_keywords(&mut self, task: &Task) {
        for t in &task.templated {
            let mut reads = BTreeSet::new();
            let mut unreadable = false;
            strings(&t.value, &mut |s| match self.reader.template(s) {
                Ok(names) => reads.extend(names),
                Err(_) => unreadable = true,
            });
            if unreadable || reads.iter().any(|n| !self.extra_vars.contains_key(n)) {
                continue;
            }
            let Some(rendered) = self.reader.render_with(&t.value, self.extra_vars) else {
                continue;
            };
            let why = match rendered {
                Ok(value) => match crate::keyword_values::to_bool(&value) {
                    Ok(_) => continue,
                    Err(why) => why,
                },
                Err(e) => e.message,
            };
            self.error(
                format!("`{}` of task `{}`: {why}", t.key, task.display_name()),
                &t.loc,
                Some(format!("`{}` must render to true or false", t.key)),
            );
        }
    }

    fn notify(&mut self, task: &Task, topics: &[&str]) {
        let loc = task.keyword_locs.get("notify").unwrap_or(&task.loc).clone();
        for name in &task.notify {
            if !topics.contains(&name.as_str()) {
                let hint = did_you_mean(name, topics.iter().copied()).or_else(|| {
                    Some(if topics.is_empty() {
                        "this play has no handlers: add one under `handlers:`".to_owned()
                    } else {
                        format!(
                            "the handlers of this play are {}",
                            topics
                                .iter()
                                .map(|t| format!("`{t}`"))
                                .collect::<Vec<_>>()
                                .join(", ")
                        )
                    })
                });
                self.error(
                    format!("`notify: {name}` names no handler of this play"),
                    &loc,
                    hint,
                );
            }
        }
    }

    fn variables(&mut self, task: &Task, play_scope: &Scope, check_undefined: bool) {
        let mut scope = play_scope.clone();
        if let Some(role) = task.role() {
            let names = role
                .defaults
                .keys()
                .chain(role.vars.keys())
                .chain(role.params.keys());
            scope.add(names.map(String::as_str), Origin::PlayVars);
            scope.add(["role_name", "ansible_role_name"], Origin::Magic);
            if !role.parents.is_empty() {
                scope.add(["ansible_parent_role_names"], Origin::Magic);
            }
        }
        scope.add(task.vars.keys().map(String::as_str), Origin::TaskVars);
        // `when: x is defined` (on the task or a block around it): the task reads `x` only
        // where it is defined.
        let guarded: BTreeSet<String> = task
            .when
            .iter()
            .flat_map(|w| Templater::defined_when_true(w))
            .collect();
        scope.add(guarded.iter().map(String::as_str), Origin::Guarded);
        // The loop list itself is read before the loop variable exists.
        let outer = scope.clone();
        if task.loop_.is_some() {
            scope.add([task.loop_control.loop_var.as_str()], Origin::LoopVar);
            scope.add(task.loop_control.index_var.as_deref(), Origin::LoopVar);
        }
        let kw = |k: &str| task.keyword_locs.get(k).unwrap_or(&task.loc).clone();
        let mut texts: Vec<(Text, Location, &Scope)> = Vec::new();
        // Ansible renders a task's name as best it can (an undefined variable stays as
        // written), so only its syntax can be wrong.
        let anything = Scope::anything();
        if let Some(name) = &task.name {
            texts.push((Text::Template(name), kw("name"), &anything));
        }
        for t in &task.templated {
            strings(&t.value, &mut |s| {
                texts.push((Text::Template(s), t.loc.clone(), &scope))
            });
        }
        if let Some(user) = &task.privilege.user {
            texts.push((Text::Template(user), kw("become_user"), &scope));
        }
        let module = registry().get(&task.module);
        let tolerated = module.map_or(&[][..], |m| m.tolerates_undefined());
        if let Value::Object(args) = &task.args {
            for (k, v) in args {
                if tolerated.contains(&k.as_str()) {
                    continue;
                }
                let loc = task.arg_locs.get(k).unwrap_or(&task.module_loc).clone();
                strings(v, &mut |s| texts.push((Text::Template(s), loc.clone(), &scope)));
            }
        }
        for w in &task.when {
            texts.push((Text::Expression(w), kw("when"), &scope));
        }
        for (key, list) in [
            ("changed_when", &task.changed_when),
            ("failed_when", &task.failed_when),
        ] {
            for c in list.iter().flatten() {
                texts.push((Text::Expression(c), kw(key), &scope));
            }
        }
        if let Some(u) = &task.until {
            texts.push((Text::Expression(u), kw("until"), &scope));
        }
        if let Some(d) = &task.delegate_to {
            texts.push((Text::Template(d), kw("delegate_to"), &scope));
        }
        if let Some(l) = &task.loop_control.label {
            texts.push((Text::Template(l), kw("loop_control"), &scope));
        }
        if let Some(lp) = &task.loop_ {
            let key = task
                .keyword_locs
                .keys()
                .find(|k| k.as_str() == "loop" || k.starts_with("with_"))
                .map_or("loop", String::as_str);
            let items = lp.value();
            let loc = kw(key);
            strings(items, &mut |s| {
                texts.push((Text::Template(s), loc.clone(), &outer))
            });
        }
        for (key, value) in [
            ("retries", &task.retries),
            ("delay", &task.delay),
            ("ignore_errors", &task.ignore_errors),
        ] {
            if let Some(v) = value {
                let loc = kw(key);
                strings(v, &mut |s| texts.push((Text::Template(s), loc.clone(), &scope)));
            }
        }
        for v in task.vars.values() {
            let loc = kw("vars");
            strings(v, &mut |s| texts.push((Text::Template(s), loc.clone(), &scope)));
        }
        for (text, loc, scope) in texts {
            self.text(task, text, &loc, scope, check_undefined);
        }
        for src in module.map(|m| m.template_files(&task.args)).unwrap_or_default() {
            self.template_file(task, &src, &scope, check_undefined);
        }
    }

    fn text(&mut self, task: &Task, text: Text, loc: &Location, scope: &Scope, check_undefined: bool) {
        let read = match text {
            Text::Template(s) if !Templater::is_template(s) => return,
            Text::Template(s) => self.reader.template(s),
            Text::Expression(e) => self.reader.expression(e),
        };
        match read {
            Ok(names) if check_undefined => {
                for name in names.iter().filter(|n| !scope.defines(n)) {
                    self.undefined(name, task, loc, scope);
                }
            }
            Ok(_) => {}
            Err(e) => self.error(
                format!(
                    "invalid template in task `{}`: {}",
                    task.display_name(),
                    e.message
                ),
                loc,
                Some("fix the Jinja syntax".into()),
            ),
        }
    }

    fn undefined(&mut self, name: &str, task: &Task, loc: &Location, scope: &Scope) {
        let close = did_you_mean(name, scope.names.keys().map(String::as_str));
        let places = format!(
            "define `{name}` in the inventory (host or group vars), in the play's `vars` or `vars_files`, \
             in the task's `vars`, with `register`/`set_fact` in a task, or with `-e {name}=...`"
        );
        let hint = match close {
            Some(c) => format!("{c} otherwise {places}"),
            None => places,
        };
        let loc = word_in_line(loc, name).unwrap_or_else(|| loc.clone());
        self.error(
            format!("undefined variable `{name}` in task `{}`", task.display_name()),
            &loc,
            Some(hint),
        );
    }

    /// A template file the task renders: it exists (checked by the module) and reads only
    /// variables that could be defined.
    fn template_file(&mut self, task: &Task, src: &str, scope: &Scope, check_undefined: bool) {
        if Templater::is_template(src) {
            return;
        }
        let Some(path) = find_local_file(
            self.playbook_dir,
            task.role().map(|r| r.path.as_path()),
            "templates",
            src,
        ) else {
            return;
        };
        // A vaulted template is checked in clear (a bad password is the module's error).
        let Ok(bytes) = crate::vault::read_local_file(&path) else {
            return;
        };
        let file = std::sync::Arc::new(path);
        let text = match String::from_utf8(bytes) {
            Ok(text) => text,
            Err(e) => {
                // Jinja templates are text: the run would fail here, after earlier hosts changed.
                let valid = &e.as_bytes()[..e.utf8_error().valid_up_to()];
                let line = valid.iter().filter(|b| **b == b'\n').count() + 1;
                let col = valid.iter().rev().take_while(|b| **b != b'\n').count() + 1;
                self.error(
                    format!("template `{src}` is not UTF-8 text (invalid byte at line {line}, column {col})"),
                    &Location::new(file, line, col),
                    Some("save the template as UTF-8; to copy binary files, use `copy`".into()),
                );
                return;
            }
        };
        let role = task.role().map(|r| r.path.as_path());
        let search = crate::template::template_search_path(self.playbook_dir, role, &file);
        let mut seen = vec![file.as_ref().clone()];
        self.included_templates(src, &text, &file, &search, &mut seen);
        match self.reader.template(&text) {
            Ok(names) if check_undefined => {
                for name in names.iter().filter(|n| !scope.defines(n)) {
                    let (line, col) = first_use(&text, name);
                    let loc = Location::new(file.clone(), line, col);
                    self.undefined(name, task, &loc, scope);
                }
            }
            Ok(_) => {}
            Err(e) => {
                let line = error_line(&e.message).unwrap_or(1);
                self.error(
                    format!("invalid template `{src}`: {}", e.message),
                    &Location::new(file, line, 1),
                    Some("fix the Jinja syntax".into()),
                );
            }
        }
    }
}

impl Validator<'_> {
    /// The templates a template file includes (imports, extends) by a literal name: each
    /// is found in the search path the run uses and parses, and so do the ones it includes.
    /// Their variables are not checked: an included template also sees what its includer
    /// sets.
    fn included_templates(
        &mut self,
        src: &str,
        text: &str,
        file: &std::sync::Arc<std::path::PathBuf>,
        search: &[std::path::PathBuf],
        seen: &mut Vec<std::path::PathBuf>,
    ) {
        for (name, line) in Templater::templates_referenced(text) {
            let path = Path::new(&name);
            let found = if path.is_absolute() {
                path.is_file().then(|| path.to_path_buf())
            } else {
                search.iter().map(|d| d.join(path)).find(|c| c.is_file())
            };
            let Some(found) = found else {
                self.error(
                    format!("template `{name}` included by `{src}` not found"),
                    &Location::new(file.clone(), line, 1),
                    Some(format!(
                        "looked in {}",
                        search
                            .iter()
                            .map(|d| format!("{}/", crate::error::display_path(d)))
                            .collect::<Vec<_>>()
                            .join(", ")
                    )),
                );
                continue;
            };
            if seen.contains(&found) {
                continue;
            }
            seen.push(found.clone());
            let Ok(inner) = std::fs::read_to_string(&found) else {
                continue;
            };
            let inner_file = std::sync::Arc::new(found);
            if let Err(e) = self.reader.template(&inner) {
                let line = error_line(&e.message).unwrap_or(1);
                self.error(
                    format!("invalid template `{name}`: {}", e.message),
                    &Location::new(inner_file.clone(), line, 1),
                    Some("fix the Jinja syntax".into()),
                );
                continue;
            }
            self.included_templates(&name, &inner, &inner_file, search, seen);
        }
    }
}

/// Every string inside a value.
fn strings<'v>(v: &'v Value, f: &mut dyn FnMut(&'v str)) {
    match v {
        Value::String(s) => f(s),
        Value::Array(items) => items.iter().for_each(|i| strings(i, f)),
        Value::Object(map) => map.values().for_each(|i| strings(i, f)),
        _ => {}
    }
}

/// The variable's own column when it is written on the located line, at or after it.
fn word_in_line(loc: &Location, name: &str) -> Option<Location> {
    let text = std::fs::read_to_string(loc.file.as_ref()).ok()?;
    let line = text.lines().nth(loc.line.checked_sub(1)?)?;
    let skip: usize = line
        .chars()
        .take(loc.col.saturating_sub(1))
        .map(char::len_utf8)
        .sum();
    let word = regex::Regex::new(&format!(r"\b{}\b", regex::escape(name))).ok()?;
    let m = word.find(&line[skip..])?;
    let col = line[..skip + m.start()].chars().count() + 1;
    Some(Location::new(loc.file.clone(), loc.line, col))
}

/// Where a variable is first used in a template file: the first whole-word occurrence
/// inside a `{{ }}` or `{% %}` block (else line 1).
fn first_use(text: &str, name: &str) -> (usize, usize) {
    let word = regex::Regex::new(&format!(r"\b{}\b", regex::escape(name))).expect("valid regex");
    let mut in_block = false;
    for (i, line) in text.lines().enumerate() {
        let mut pos = 0;
        while pos < line.len() {
            let rest = &line[pos..];
            if !in_block {
                match rest.find("{{").into_iter().chain(rest.find("{%")).min() {
                    Some(open) => {
                        in_block = true;
                        pos += open + 2;
                    }
                    None => break,
                }
            } else {
                let close = rest
                    .find("}}")
                    .into_iter()
                    .chain(rest.find("%}"))
                    .min()
                    .unwrap_or(rest.len());
                if let Some(m) = word.find(&rest[..close]) {
                    let col = line[..pos + m.start()].chars().count() + 1;
                    return (i + 1, col);
                }
                if close < rest.len() {
                    in_block = false;
                    pos += close + 2;
                } else {
                    break;
                }
            }
        }
    }
    (1, 1)
}

/// The line number in a minijinja message ("... (in x.j2:12)" or "line 12").
fn error_line(message: &str) -> Option<usize> {
    let re = regex::Regex::new(r"(?:line |:)(\d+)\)?").expect("valid regex");
    re.captures_iter(message).last()?.get(1)?.as_str().parse().ok()
}

#[cfg(test)]
mod tests;
