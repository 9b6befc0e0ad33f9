//! What the static check can know of a play's dynamic includes before any host is
//! touched: the files `include_tasks` names without templates (or with templates of play
//! vars and `-e` only) are loaded and checked like the play's own tasks, with the include
//! chain in their errors; the variables `include_vars` of a known file defines are known.
//! An include whose file cannot be known may define anything: the check of undefined
//! variables stands down for the play then, leaving them to run time.

use crate::error::{Diagnostic, Error};
use crate::modules::{include_tasks, include_vars, registry};
use crate::playbook::{flatten, Play, Task};
use crate::template::Templater;
use crate::vars::{Context, VarMap};
use serde_json::Value;
use std::collections::BTreeSet;
use std::path::Path;
use std::sync::Arc;

/// Nested includes followed this deep at most (a longer chain is a recursion that only a
/// condition ends, at run time).
const MAX_DEPTH: usize = 16;

#[derive(Debug, Default)]
pub(super) struct IncludeScan {
    /// The tasks of every included file found, as their include passes them down.
    pub tasks: Vec<Task>,
    /// Variables that `include_vars` and the included tasks (`register`, `set_fact`) define.
    pub defined: BTreeSet<String>,
    /// Some include could not be read: it may define any variable.
    pub open: bool,
    pub diags: Vec<Diagnostic>,
}

/// Scan a play's includes; `extra_vars` and the play's vars are what a file name may be
/// templated with.
pub(super) fn scan(play: &Play, playbook_dir: &Path, extra_vars: &VarMap) -> IncludeScan {
    let mut known = Context::new();
    known.push(Arc::new(play.vars.clone()));
    known.push(Arc::new(extra_vars.clone()));
    let mut scanner = Scanner {
        templater: Templater::new(),
        known,
        known_names: play.vars.keys().chain(extra_vars.keys()).cloned().collect(),
        playbook_dir,
        out: IncludeScan::default(),
    };
    let sections = play.sections();
    let own = sections.iter().flat_map(|(_, tasks)| flatten(tasks));
    let tasks: Vec<&Task> = own.collect();
    scanner.walk(&tasks, false, 0);
    scanner.walk(&flatten(&play.handlers), true, 0);
    scanner.out
}

struct Scanner<'a> {
    templater: Templater,
    known: Context,
    known_names: BTreeSet<String>,
    playbook_dir: &'a Path,
    out: IncludeScan,
}

impl Scanner<'_> {
    fn walk(&mut self, tasks: &[&Task], handlers: bool, depth: usize) {
        for task in tasks {
            match task.module.as_str() {
                "include_tasks" => self.include_tasks(task, handlers, depth),
                "include_role" => self.include_role(task, handlers, depth),
                "include_vars" => self.include_vars(task),
                _ => {}
            }
        }
    }

    /// The file name, when it is known before the run.
    fn static_name(&self, written: &str) -> Option<String> {
        if !Templater::is_template(written) {
            return Some(written.trim().to_owned());
        }
        let read = self.templater.variables_read(written).ok()?;
        if !read.iter().all(|n| self.known_names.contains(n)) {
            return None;
        }
        let name = self.templater.render_str(written, &self.known).ok()?;
        Some(name.trim().to_owned())
    }

    fn include_tasks(&mut self, task: &Task, handlers: bool, depth: usize) {
        let Some(include) = &task.include else { return };
        let name = include_tasks::file_of(&task.args).and_then(|w| self.static_name(&w));
        let Some(name) = name else {
            self.out.open = true;
            return;
        };
        let path = match crate::parse::resolve_tasks_file(&name, &task.origin, handlers) {
            Ok(path) => path,
            Err(looked) => {
                // Only certain when nothing can skip the include; else it is left to run time.
                if task.when.is_empty() {
                    self.out.diags.push(missing(task, &name, &looked));
                }
                self.out.open = true;
                return;
            }
        };
        if depth >= MAX_DEPTH || task.origin.cycle(&path).is_some() {
            return;
        }
        let chain = task.origin.include(task.loc.clone(), &path);
        let loaded = match crate::parse::load_tasks_file(&path, &chain, handlers) {
            Ok(tasks) => tasks,
            Err(Error::Invalid(ds)) => {
                self.out.diags.extend(ds);
                self.out.open = true;
                return;
            }
            Err(e) => {
                self.out
                    .diags
                    .push(Diagnostic::new(e.to_string()).included_from(&chain.locations()));
                self.out.open = true;
                return;
            }
        };
        self.included(task, include, loaded, handlers, depth);
    }

    /// `include_role`: its tasks (loaded with the playbook) are checked like an included
    /// file's; a public role's variables are defined for the rest of the play.
    fn include_role(&mut self, task: &Task, handlers: bool, depth: usize) {
        let Some(include) = &task.include else { return };
        let Some(role) = &include.role else { return };
        if role.public {
            let role_vars = role
                .role
                .exported_defaults
                .keys()
                .chain(role.role.exported_vars.keys());
            self.out.defined.extend(role_vars.cloned());
        }
        if depth >= MAX_DEPTH {
            return;
        }
        self.included(task, include, role.tasks.clone(), handlers, depth);
    }

    /// The tasks an include loaded, passed what it gives them, checked with the play's.
    fn included(
        &mut self,
        task: &Task,
        include: &crate::playbook::Include,
        mut loaded: Vec<Task>,
        handlers: bool,
        depth: usize,
    ) {
        // What the tasks see besides their own: the include's vars (with what an outer
        // include passed it) and loop variable; their templates are checked on the include.
        let mut passed: VarMap = task.vars.keys().map(|k| (k.clone(), Value::Null)).collect();
        if task.loop_.is_some() {
            passed.insert(task.loop_control.loop_var.clone(), Value::Null);
            if let Some(i) = &task.loop_control.index_var {
                passed.insert(i.clone(), Value::Null);
            }
        }
        for t in &mut loaded {
            if let Some(apply) = &include.apply {
                crate::parse::inherit(t, apply);
            }
            crate::parse::inherit(t, &include.parents);
            add_vars(t, &passed);
        }
        let leaves: Vec<Task> = flatten(&loaded).into_iter().cloned().collect();
        for t in &leaves {
            self.out.defined.extend(t.register.clone());
            if let Some(m) = registry().get(&t.module) {
                self.out.defined.extend(m.defines_vars(&t.args));
            }
        }
        let refs: Vec<&Task> = leaves.iter().collect();
        self.walk(&refs, handlers, depth + 1);
        self.out.tasks.extend(leaves);
    }

    fn include_vars(&mut self, task: &Task) {
        let Some((file, name)) = include_vars::source_of(&task.args) else {
            self.out.open = true;
            return;
        };
        if let Some(name) = name.filter(|n| !Templater::is_template(n)) {
            self.out.defined.insert(name);
            return;
        }
        let file = file
            .and_then(|f| self.static_name(&f))
            .filter(|_| task.loop_.is_none());
        let found = file.and_then(|f| {
            let role = task.role().map(|r| r.path.as_path());
            include_vars::find_vars_file(&f, role, task.loc.file.parent(), self.playbook_dir).ok()
        });
        match found.map(|p| crate::parse::load_vars_file(&p)) {
            Some(Ok(vars)) => self.out.defined.extend(vars.into_keys()),
            // A directory, a templated or missing file: anything may come of it.
            _ => self.out.open = true,
        }
    }
}

/// Add variable names (without values) to a task's vars and its blocks' tasks.
fn add_vars(task: &mut Task, names: &VarMap) {
    for (k, v) in names {
        task.vars.entry(k.clone()).or_insert_with(|| v.clone());
    }
    if let Some(b) = &mut task.block {
        for t in b.tasks.iter_mut().chain(&mut b.rescue).chain(&mut b.always) {
            add_vars(t, names);
        }
    }
}

/// A statically known include file that is not there: Ansible fails every host that
/// reaches the include.
fn missing(task: &Task, name: &str, looked: &[std::path::PathBuf]) -> Diagnostic {
    let loc = ["_raw_params", "file"]
        .iter()
        .find_map(|k| task.arg_locs.get(*k))
        .unwrap_or(&task.module_loc)
        .clone();
    let places: Vec<String> = looked.iter().map(|p| crate::error::display_path(p)).collect();
    let mut d = Diagnostic::new(format!("included file `{name}` not found"))
        .at(loc)
        .with_snippet_from_disk()
        .included_from(&task.origin.locations());
    d.hint = Some(format!("looked for {}", places.join(", ")));
    d
}
