//! Roles: `roles:` on a play and `import_role`, found and expanded as Ansible does when
//! it loads a playbook. A role becomes ordinary tasks and handlers that carry it (for
//! `TASK [role : name]`, `role_path`, its variables), its dependencies' tasks first.
//!
//! A role named again in the same play with the same parameters, `when`, `tags` and
//! `vars` is listed again, and its tasks carry which naming they are: the runner skips
//! them for hosts where an earlier naming ran a task, unless its meta says
//! `allow_duplicates: true`, as Ansible does.

use super::imports::{expand_home, normalize};
use super::task::{empty_task, inherit, BLOCK_KEYWORDS, TASK_KEYWORDS, UNSUPPORTED_TASK_KEYWORDS};
use super::{kv, load_vars_file, Parser};
use crate::config::AnsibleConfig;
use crate::error::{did_you_mean, display_path, Error, Location};
use crate::playbook::{IncludedRole, RoleRef, Task};
use crate::vars::VarMap;
use crate::yaml::{self, Source, TopLevel};
use indexmap::IndexMap;
use marked_yaml::Node;
use serde_json::{json, Map, Value};
use std::path::{Path, PathBuf};
use std::sync::Arc;

/// What the roles of one play share while it is loaded.
#[derive(Default)]
pub(crate) struct PlayRoles {
    /// How many times each role was named so far (by what makes it the same role).
    seen: std::collections::HashMap<String, usize>,
    /// The play they belong to: the same role in another play is another role.
    pub play: Option<Location>,
    /// The roles of `roles:` and `import_role`, in order.
    pub public: Vec<Arc<RoleRef>>,
    /// The roles being loaded, outermost first (a dependency cycle returns to one).
    loading: Vec<(String, PathBuf)>,
    /// Handlers of `import_role`s: they come after the play's own.
    pub late_handlers: Vec<Task>,
    /// The configuration's roles path, read once.
    roles_path: Option<Vec<PathBuf>>,
}

/// The keywords a role line (`- role: x` or a dependency) passes down to its tasks: a
/// block's (a keyword added to `BLOCK_KEYWORDS`, such as `environment`, is passed down
/// from a role too, by `inherit`).
fn role_keyword(key: &str) -> bool {
    key != "name" && key != "notify" && key != "vars" && BLOCK_KEYWORDS.contains(&key)
}

/// One role as a play, a dependency or an `import_role` names it.
pub(crate) struct RoleEntry {
    pub name: String,
    /// Where it was named.
    pub loc: Location,
    /// Its keywords (`when`, `tags`, `become`...), as a block its tasks inherit from.
    pub statement: Task,
    /// `vars:` on the line.
    pub vars: VarMap,
    /// The other keys of the line: role parameters.
    pub params: VarMap,
}

/// Which file of each folder to read (`tasks_from`, `vars_from`...); `main` by default.
#[derive(Debug, Clone, Default)]
pub(crate) struct FromFiles {
    pub tasks: Option<String>,
    pub vars: Option<String>,
    pub defaults: Option<String>,
    pub handlers: Option<String>,
}

/// A role's own variables, for the dependencies it pulls in.
#[derive(Clone)]
pub(crate) struct Parent {
    vars: VarMap,
    role_vars: VarMap,
    params: VarMap,
    defaults: VarMap,
}

/// A role expanded: its tasks (dependencies' first) and handlers.
pub(crate) struct Expanded {
    pub role: Arc<RoleRef>,
    pub tasks: Vec<Task>,
    pub handlers: Vec<Task>,
}

fn merged(layers: impl IntoIterator<Item = VarMap>) -> VarMap {
    let mut out = VarMap::new();
    for layer in layers {
        out.extend(layer);
    }
    out
}

/// `main` or `name` under `dir`, with Ansible's extensions (none, `.yml`, `.yaml`,
/// `.json`); a directory of that name (for vars and defaults) gives its files, sorted.
fn role_files(dir: &Path, name: &str, allow_dir: bool) -> Vec<PathBuf> {
    for ext in ["", ".yml", ".yaml", ".json"] {
        let path = dir.join(format!("{name}{ext}"));
        if path.is_dir() {
            if allow_dir {
                return dir_files(&path);
            }
            continue;
        }
        if path.is_file() {
            return vec![path];
        }
    }
    Vec::new()
}

fn dir_files(dir: &Path) -> Vec<PathBuf> {
    let Ok(read) = std::fs::read_dir(dir) else {
        return Vec::new();
    };
    let mut names: Vec<PathBuf> = read.filter_map(|e| e.ok().map(|e| e.path())).collect();
    names.sort();
    let mut out = Vec::new();
    for path in names {
        let name = path
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        if name.starts_with('.') || name.ends_with('~') {
            continue;
        }
        if path.is_dir() {
            out.extend(dir_files(&path));
        } else if matches!(
            path.extension().and_then(|e| e.to_str()),
            None | Some("yml" | "yaml" | "json")
        ) {
            out.push(path);
        }
    }
    out
}

impl Parser<'_> {
    /// `roles:` of a play: each role expanded in order.
    pub(super) fn play_roles(&mut self, node: &Node) -> (Vec<Task>, Vec<Task>) {
        let items = self.list_items(
            "`roles`",
            node,
            "write `- role_name` or `- role: role_name` lines",
        );
        let (mut tasks, mut handlers) = (Vec::new(), Vec::new());
        for item in items {
            let Some(entry) = self.role_entry(item, "roles") else {
                continue;
            };
            if let Some(expanded) = self.expand_role(&entry, &FromFiles::default(), &[], None, &[]) {
                self.roles.borrow_mut().public.push(expanded.role.clone());
                tasks.extend(expanded.tasks);
                handlers.extend(expanded.handlers);
            }
        }
        (tasks, handlers)
    }

    /// A role line: `name`, or a mapping with `role:` (or `name:`), keywords, `vars:` and
    /// role parameters.
    pub(super) fn role_entry(&mut self, node: &Node, what: &str) -> Option<RoleEntry> {
        let loc = self.loc(node);
        let mut statement = empty_task(loc.clone(), "role".into(), loc.clone());
        statement.origin = self.origin.clone();
        let mut entry = RoleEntry {
            name: String::new(),
            loc: loc.clone(),
            statement,
            vars: VarMap::new(),
            params: VarMap::new(),
        };
        match node {
            Node::Scalar(_) => entry.name = self.string(what, node)?,
            Node::Mapping(m) => {
                let errors_before = self.diags.len();
                let (mut args, mut arg_locs) = (Map::new(), IndexMap::new());
                let mut name = None;
                for (k, v) in m.iter() {
                    let key = k.as_str();
                    let at = self.key_loc(k);
                    match key {
                        "role" | "name" => {
                            if name.is_some() {
                                self.error("a role line names one role", at)
                                    .hint("use `role:` or `name:`, not both");
                                continue;
                            }
                            name = self.string(key, v).map(|n| (n, self.loc(v)));
                        }
                        "vars" => entry.vars = self.vars(v),
                        _ if role_keyword(key) => {
                            entry.statement.keyword_locs.insert(key.to_owned(), at);
                            self.task_keyword(&mut entry.statement, k, v, false, &mut args, &mut arg_locs);
                        }
                        _ => {
                            if let Some((_, hint)) = UNSUPPORTED_TASK_KEYWORDS.iter().find(|(w, _)| *w == key)
                            {
                                self.error(format!("`{key}` on a role is not supported by zdd yet"), at)
                                    .hint(*hint);
                            } else if TASK_KEYWORDS.contains(&key) {
                                self.error(format!("`{key}` is not a keyword of a role"), at)
                                    .hint("put it on the role's tasks");
                            } else if !kv::is_identifier(key) {
                                self.error(format!("`{key}` is not a valid role parameter name"), at)
                                    .hint_opt(did_you_mean(key, BLOCK_KEYWORDS.iter().copied()));
                            } else {
                                entry.params.insert(key.to_owned(), yaml::to_value(v));
                            }
                        }
                    }
                }
                match name {
                    Some((n, at)) => {
                        entry.name = n;
                        entry.loc = at;
                    }
                    None => {
                        self.error(format!("this {what} entry names no role"), loc)
                            .hint("write `role: NAME`");
                        return None;
                    }
                }
                if self.diags.len() > errors_before {
                    return None;
                }
            }
            Node::Sequence(_) => {
                self.error(
                    format!("a {what} entry is a role name or a mapping, found a list"),
                    loc,
                );
                return None;
            }
        }
        if crate::template::Templater::is_template(&entry.name) {
            self.error(
                "a templated role name is not supported by zdd yet",
                entry.loc.clone(),
            )
            .hint("name the role directly");
            return None;
        }
        Some(entry)
    }

    /// Where a role is, as Ansible searches: `roles/` beside the playbook, the roles
    /// path, inside the role that depends on it, the playbook's directory, then the name
    /// as a path.
    fn find_role(&mut self, name: &str, parent: Option<&Path>) -> Result<(String, PathBuf), Vec<PathBuf>> {
        let roles_path = {
            let mut state = self.roles.borrow_mut();
            state
                .roles_path
                .get_or_insert_with(|| {
                    // A bad configuration was reported before the playbook was parsed.
                    AnsibleConfig::current()
                        .map(|c| c.roles_path.value.clone())
                        .unwrap_or_default()
                })
                .clone()
        };
        let base = self.origin.playbook_dir.clone();
        let mut search = vec![base.join("roles")];
        search.extend(roles_path);
        search.extend(parent.map(Path::to_path_buf));
        search.push(base.clone());
        for dir in &search {
            let path = normalize(&dir.join(name));
            if path.is_dir() {
                return Ok((name.to_owned(), path));
            }
        }
        let as_path = expand_home(name);
        let as_path = std::path::absolute(&as_path).unwrap_or(as_path);
        if as_path.is_dir() {
            let base_name = as_path
                .file_name()
                .map(|n| n.to_string_lossy().into_owned())
                .unwrap_or_else(|| name.to_owned());
            return Ok((base_name, normalize(&as_path)));
        }
        Err(search)
    }

    /// Find, load and expand one role with its dependencies. `None` when it has
    /// problems (recorded).
    pub(super) fn expand_role(
        &mut self,
        entry: &RoleEntry,
        from: &FromFiles,
        parents: &[Parent],
        allow_duplicates: Option<bool>,
        parent_names: &[String],
    ) -> Option<Expanded> {
        let parent_dir = self.roles.borrow().loading.last().map(|(_, p)| p.clone());
        let (name, path) = match self.find_role(&entry.name, parent_dir.as_deref()) {
            Ok(found) => found,
            Err(searched) => {
                let places: Vec<String> = searched.iter().map(|p| display_path(p)).collect();
                let collection = entry.name.split('.').count() >= 3 && !entry.name.contains('/');
                let message = format!("role `{}` not found", entry.name);
                let hint = if collection {
                    format!(
                        "`{}` looks like a collection role; zdd does not support collections yet: \
                         put the role in one of {}",
                        entry.name,
                        places.join(", ")
                    )
                } else {
                    format!("looked in {}", places.join(", "))
                };
                self.error(message, entry.loc.clone()).hint(hint);
                return None;
            }
        };
        let cycle = {
            let state = self.roles.borrow();
            state.loading.iter().position(|(_, p)| *p == path).map(|start| {
                let mut names: Vec<&str> = state.loading[start..].iter().map(|(n, _)| n.as_str()).collect();
                names.push(&name);
                names.join(" -> ")
            })
        };
        if let Some(cycle) = cycle {
            self.error(
                format!("role `{name}` depends on itself: {cycle}"),
                entry.loc.clone(),
            )
            .hint("remove one of these dependencies from its `meta/main.yml`");
            return None;
        }
        let errors_before = self.diags.len();
        let defaults = self.role_vars_dir(entry, &path, "defaults", from.defaults.as_deref());
        let role_vars = self.role_vars_dir(entry, &path, "vars", from.vars.as_deref());
        let meta = self.role_meta(entry, &path);
        if self.diags.len() > errors_before {
            return None;
        }
        let allow_duplicates = allow_duplicates.unwrap_or(meta.allow_duplicates);
        let key = json!({
            "play": self.roles.borrow().play.as_ref().map(|l| l.to_string()),
            "name": name,
            "path": path,
            "params": Value::Object(entry.params.clone().into_iter().collect()),
            "when": entry.statement.when,
            "tags": entry.statement.tags,
            "from": [from.tasks, from.vars, from.defaults, from.handlers],
            "vars": Value::Object(entry.vars.clone().into_iter().collect()),
        })
        .to_string();
        let nth = {
            let mut state = self.roles.borrow_mut();
            let count = state.seen.entry(key.clone()).or_insert(0);
            let nth = *count;
            *count += 1;
            state.loading.push((name.clone(), path.clone()));
            nth
        };
        let me = Parent {
            vars: entry.vars.clone(),
            role_vars: role_vars.clone(),
            params: entry.params.clone(),
            defaults: defaults.clone(),
        };
        let mut chain_of_parents = parents.to_vec();
        chain_of_parents.push(me);
        let mut deps: Vec<Expanded> = Vec::new();
        if let Some((meta_src, dep_nodes)) = &meta.dependencies {
            deps = self.role_dependencies(entry, meta_src, dep_nodes, &chain_of_parents);
        }
        self.roles.borrow_mut().loading.pop();
        if self.diags.len() > errors_before {
            return None;
        }
        let dep_defaults = merged(deps.iter().map(|d| d.role.exported_defaults.clone()));
        let dep_vars = merged(deps.iter().map(|d| d.role.exported_vars.clone()));
        let mut dependencies: Vec<String> = Vec::new();
        for d in &deps {
            for n in d.role.dependencies.iter().chain([&d.role.name]) {
                if !dependencies.contains(n) {
                    dependencies.push(n.clone());
                }
            }
        }
        let role = Arc::new(RoleRef {
            name: name.clone(),
            path: path.clone(),
            defaults: merged(
                [dep_defaults.clone()]
                    .into_iter()
                    .chain(parents.iter().map(|p| p.defaults.clone()))
                    .chain([defaults.clone()]),
            ),
            vars: merged(
                parents
                    .iter()
                    .flat_map(|p| [p.vars.clone(), p.role_vars.clone()])
                    .chain([dep_vars.clone(), role_vars.clone(), entry.vars.clone()]),
            ),
            params: merged(
                parents
                    .iter()
                    .map(|p| p.params.clone())
                    .chain([entry.params.clone()]),
            ),
            exported_defaults: merged([dep_defaults, defaults]),
            exported_vars: merged([dep_vars, role_vars]),
            dependencies,
            parents: parent_names.to_vec(),
            instance: crate::playbook::RoleInstance {
                key: key.into(),
                nth,
                allow_duplicates,
            },
        });
        let mut tasks: Vec<Task> = Vec::new();
        let mut handlers: Vec<Task> = Vec::new();
        for dep in deps {
            tasks.extend(dep.tasks);
            handlers.extend(dep.handlers);
        }
        tasks.extend(self.role_task_file(entry, &role, "tasks", from.tasks.as_deref(), false));
        let own_handlers = self.role_task_file(entry, &role, "handlers", from.handlers.as_deref(), true);
        // A repeat's handlers are the first naming's again.
        if nth == 0 || allow_duplicates {
            handlers.extend(own_handlers);
        }
        for task in tasks.iter_mut().chain(&mut handlers) {
            inherit(task, &entry.statement);
        }
        (self.diags.len() == errors_before).then_some(Expanded {
            role,
            tasks,
            handlers,
        })
    }

    /// `include_role`: the role loaded now, run when the task is reached. Its handlers
    /// join the play's; with `public: true` the runner makes its variables the play's
    /// once it ran. The
    /// unnamed task is shown as `ACTION : ROLE` (the action as written), as in Ansible.
    pub(super) fn included_role(&mut self, task: &mut Task, written: &str) -> Option<Arc<IncludedRole>> {
        let Some(args) = crate::modules::include_role::args_of(&task.args) else {
            self.error("the arguments of `include_role` are not valid", task.loc.clone())
                .hint("it takes name, tasks_from, vars_from, defaults_from, handlers_from, public, apply, allow_duplicates");
            return None;
        };
        let loc = task
            .arg_locs
            .get("name")
            .cloned()
            .unwrap_or_else(|| task.loc.clone());
        let Some(name) = args.name.clone().filter(|n| !n.trim().is_empty()) else {
            self.error("`include_role` names no role", loc)
                .hint("add `name: ROLE`");
            return None;
        };
        let from = FromFiles {
            tasks: args.tasks_from.clone(),
            vars: args.vars_from.clone(),
            defaults: args.defaults_from.clone(),
            handlers: args.handlers_from.clone(),
        };
        let templated = std::iter::once(&name)
            .chain(
                [&from.tasks, &from.vars, &from.defaults, &from.handlers]
                    .into_iter()
                    .flatten(),
            )
            .any(|n| crate::template::Templater::is_template(n));
        if templated {
            self.error(
                "a templated role name or `*_from` of `include_role` is not supported by zdd yet",
                loc,
            )
            .hint("name the role and its files directly");
            return None;
        }
        if task.name.is_none() {
            task.name = Some(format!("{written} : {name}"));
        }
        let parents: Vec<String> = match &self.origin.role {
            Some(parent) => std::iter::once(parent.name.clone())
                .chain(parent.parents.iter().cloned())
                .collect(),
            None => Vec::new(),
        };
        let mut statement = empty_task(loc.clone(), "role".into(), loc.clone());
        statement.origin = self.origin.clone();
        let entry = RoleEntry {
            name,
            loc,
            statement,
            vars: VarMap::new(),
            params: VarMap::new(),
        };
        // An included role runs each time it is included, unless told otherwise.
        let allow = Some(args.allow_duplicates.unwrap_or(true));
        let expanded = self.expand_role(&entry, &from, &[], allow, &parents)?;
        let mut state = self.roles.borrow_mut();
        // The same role included again brings no second copy of its handlers.
        for handler in expanded.handlers {
            if !state.late_handlers.iter().any(|h| h.loc == handler.loc) {
                state.late_handlers.push(handler);
            }
        }
        Some(Arc::new(IncludedRole {
            role: expanded.role,
            tasks: expanded.tasks,
            public: args.public == Some(true),
        }))
    }

    /// `defaults/` or `vars/` of a role: `main` (or the `*_from` name), a file or a
    /// directory of files merged in order.
    fn role_vars_dir(&mut self, entry: &RoleEntry, role: &Path, dir: &str, from: Option<&str>) -> VarMap {
        let files = role_files(&role.join(dir), from.unwrap_or("main"), true);
        if files.is_empty() {
            if let Some(name) = from {
                self.error(
                    format!("`{dir}/{name}` not found in role `{}`", entry.name),
                    entry.loc.clone(),
                )
                .hint(format!("looked in {}", display_path(&role.join(dir))));
            }
            return VarMap::new();
        }
        let mut vars = VarMap::new();
        for file in files {
            let chain = self.origin.include(entry.loc.clone(), &file).locations();
            let text_empty = crate::yaml::read_bounded(&file)
                .map(|t| t.trim().is_empty())
                .unwrap_or(false);
            if text_empty {
                continue;
            }
            match load_vars_file(&file) {
                Ok(v) => vars.extend(v),
                Err(Error::Invalid(ds)) => self.diags.extend(ds.into_iter().map(|d| d.included_from(&chain))),
                Err(e) => {
                    let d = crate::error::Diagnostic::new(e.to_string()).included_from(&chain);
                    self.diags.push(d);
                }
            }
        }
        vars
    }

    /// A role's `tasks/` or `handlers/` file, its tasks carrying the role.
    fn role_task_file(
        &mut self,
        entry: &RoleEntry,
        role: &Arc<RoleRef>,
        dir: &str,
        from: Option<&str>,
        handlers: bool,
    ) -> Vec<Task> {
        let files = role_files(&role.path.join(dir), from.unwrap_or("main"), false);
        let Some(file) = files.into_iter().next() else {
            if let Some(name) = from {
                self.error(
                    format!("`{dir}/{name}` not found in role `{}`", role.name),
                    entry.loc.clone(),
                )
                .hint(format!("looked in {}", display_path(&role.path.join(dir))));
            }
            return Vec::new();
        };
        let chain = self
            .origin
            .include(entry.loc.clone(), &file)
            .in_role(role.clone());
        let mut p_tasks = Vec::new();
        match super::imports::load_tasks_with(&file, &chain, handlers, self.roles.clone()) {
            Ok(tasks) => p_tasks = tasks,
            Err(Error::Invalid(ds)) => self.diags.extend(ds),
            Err(e) => self
                .diags
                .push(crate::error::Diagnostic::new(e.to_string()).included_from(&chain.locations())),
        }
        p_tasks
    }

    /// `meta/main.yml`: `allow_duplicates` and the `dependencies` to expand.
    fn role_meta(&mut self, entry: &RoleEntry, role: &Path) -> RoleMeta {
        let mut meta = RoleMeta::default();
        let Some(file) = role_files(&role.join("meta"), "main", false).into_iter().next() else {
            return meta;
        };
        let chain = self.origin.include(entry.loc.clone(), &file);
        let src = match Source::read(&file) {
            Ok(src) => src,
            Err(d) => {
                self.diags.push(d.included_from(&chain.locations()));
                return meta;
            }
        };
        if src.text.trim().is_empty() {
            return meta;
        }
        let mut p = Parser::new(&src);
        p.origin = Arc::new(chain);
        p.roles = self.roles.clone();
        let node = match src.parse(TopLevel::Mapping) {
            Ok(n) => n,
            Err(d) => {
                p.diags.push(d);
                self.absorb(p);
                return meta;
            }
        };
        let Node::Mapping(m) = &node else {
            unreachable!("parsed as a mapping")
        };
        for (k, v) in m.iter() {
            match k.as_str() {
                "allow_duplicates" => {
                    meta.allow_duplicates = p.boolean("allow_duplicates", v).unwrap_or(false)
                }
                "dependencies" => match v {
                    Node::Sequence(_) => meta.dependencies = Some((src.clone(), Some(v.clone()))),
                    Node::Scalar(s) if s.may_coerce() && matches!(s.as_str(), "" | "~" | "null") => {}
                    other => {
                        let loc = p.loc(other);
                        p.error(
                            format!(
                                "`dependencies` must be a list of roles, found {}",
                                yaml::kind(other)
                            ),
                            loc,
                        )
                        .hint("write `- role: NAME` lines under `dependencies:`");
                    }
                },
                // Galaxy's description of the role, its argument specs and platforms:
                // nothing that changes a run.
                _ => {}
            }
        }
        self.absorb(p);
        meta
    }

    /// The problems another file's parser found, with its chain.
    fn absorb(&mut self, p: Parser<'_>) {
        if let Err(Error::Invalid(ds)) = p.finish() {
            self.diags.extend(ds);
        }
    }

    fn role_dependencies(
        &mut self,
        entry: &RoleEntry,
        meta_src: &Source,
        deps: &Option<Node>,
        parents: &[Parent],
    ) -> Vec<Expanded> {
        let Some(Node::Sequence(items)) = deps else {
            return Vec::new();
        };
        let meta_file = meta_src.path.as_ref().clone();
        let mut p = Parser::new(meta_src);
        p.origin = Arc::new(self.origin.include(entry.loc.clone(), &meta_file));
        p.roles = self.roles.clone();
        let mut out = Vec::new();
        for item in items.iter() {
            // `- src: ...` lines (for ansible-galaxy) name a role as `role` or `name` too.
            let Some(dep) = p.role_entry(item, "dependencies") else {
                continue;
            };
            if let Some(expanded) = p.expand_role(&dep, &FromFiles::default(), parents, None, &[]) {
                out.push(expanded);
            }
        }
        self.absorb(p);
        out
    }
}

#[derive(Default)]
struct RoleMeta {
    allow_duplicates: bool,
    dependencies: Option<(Source, Option<Node>)>,
}
