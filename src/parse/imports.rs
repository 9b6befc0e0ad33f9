//! Static imports (`import_tasks`, the removed bare `include`) and the loader of task
//! files they share with roles and with `include_tasks` at run time.
//!
//! An imported file's tasks take the import statement's keywords (`when`, `tags`, `vars`,
//! `become`...) as a block's tasks take the block's. Every problem inside an imported file
//! is reported at its own file and line, with the chain of statements that led there.

use super::roles::{FromFiles, PlayRoles};
use super::task::{empty_task, inherit, BLOCK_KEYWORDS};
use super::Parser;
use crate::error::{did_you_mean, display_path, Diagnostic, Error, Location};
use crate::playbook::{IncludeChain, Task};
use crate::yaml::{MarkedMappingNode, MarkedScalarNode, Source, TopLevel};
use indexmap::IndexMap;
use marked_yaml::Node;
use serde_json::Map;
use std::cell::RefCell;
use std::path::{Path, PathBuf};
use std::rc::Rc;
use std::sync::Arc;

/// How deep imports may nest: a chain this long is a loop through templated names or a
/// mistake, never a real project.
const MAX_DEPTH: usize = 64;

/// Load a file of tasks (or handlers): `chain` is how it was reached, its last frame
/// naming `path`, and its role when the file is a role's. Imports inside it are expanded;
/// every problem carries the chain.
pub fn load_tasks_file(path: &Path, chain: &IncludeChain, handlers: bool) -> Result<Vec<Task>, Error> {
    load_tasks_with(path, chain, handlers, Default::default())
}

/// `load_tasks_file` for a file of the play being loaded, sharing its roles.
pub(super) fn load_tasks_with(
    path: &Path,
    chain: &IncludeChain,
    handlers: bool,
    roles: Rc<RefCell<PlayRoles>>,
) -> Result<Vec<Task>, Error> {
    let locations = chain.locations();
    let src = Source::read(path).map_err(|d| Error::invalid(d.included_from(&locations)))?;
    let mut p = Parser::new(&src);
    p.origin = Arc::new(chain.clone());
    p.roles = roles;
    let tasks = p.task_file(handlers);
    p.finish()?;
    Ok(tasks)
}

/// Where `import_tasks: TARGET` (or `include_tasks`) written in the file `chain` leads to
/// finds its file, as Ansible looks: beside the file that names it, in its role's
/// `tasks/` (`handlers/`) and the role itself, then in the playbook's directory. `Err`
/// lists the places looked at.
pub fn resolve_tasks_file(
    target: &str,
    chain: &IncludeChain,
    handlers: bool,
) -> Result<PathBuf, Vec<PathBuf>> {
    let target_path = Path::new(target);
    if target_path.is_absolute() || target.starts_with('~') {
        let path = expand_home(target);
        return if path.is_file() { Ok(path) } else { Err(vec![path]) };
    }
    let mut candidates: Vec<PathBuf> = Vec::new();
    if let Some(dir) = chain.file().and_then(Path::parent) {
        candidates.push(dir.join(target_path));
    }
    if let Some(role) = &chain.role {
        let sub = if handlers { "handlers" } else { "tasks" };
        candidates.push(role.path.join(sub).join(target_path));
        candidates.push(role.path.join(target_path));
    }
    candidates.push(chain.playbook_dir.join(target_path));
    let mut seen = Vec::new();
    for c in candidates {
        let c = normalize(&c);
        if !seen.contains(&c) {
            seen.push(c);
        }
    }
    match seen.iter().find(|c| c.is_file()) {
        Some(found) => Ok(found.clone()),
        None => Err(seen),
    }
}

/// `~/x` as the user's home, else the text as a path.
pub(crate) fn expand_home(text: &str) -> PathBuf {
    match (text.strip_prefix("~/"), std::env::var_os("HOME")) {
        (Some(rest), Some(home)) => Path::new(&home).join(rest),
        _ => PathBuf::from(text),
    }
}

/// `a/./b/../c` as `a/c`, without touching the disk (Ansible's `unfrackpath`, unfollowed).
pub(crate) fn normalize(path: &Path) -> PathBuf {
    use std::path::Component;
    let mut out = PathBuf::new();
    for part in path.components() {
        match part {
            Component::CurDir => {}
            Component::ParentDir => {
                if !out.pop() {
                    out.push("..");
                }
            }
            other => out.push(other.as_os_str()),
        }
    }
    out
}

/// The statement keywords an `import_tasks` passes down to the tasks it imports.
const IMPORT_KEYWORDS: &[&str] = BLOCK_KEYWORDS;

/// What a task-list entry is, when it is not an ordinary task.
#[derive(Clone, Copy, PartialEq)]
enum Import {
    Tasks,
    Role,
    /// The bare `include:`, removed in ansible-core 2.16.
    BareInclude,
}

fn import_of(key: &str) -> Option<Import> {
    let short = key
        .strip_prefix("ansible.builtin.")
        .or_else(|| key.strip_prefix("ansible.legacy."))
        .unwrap_or(key);
    match short {
        "import_tasks" => Some(Import::Tasks),
        "import_role" => Some(Import::Role),
        "include" => Some(Import::BareInclude),
        _ => None,
    }
}

impl Parser<'_> {
    /// A whole file of tasks: a list, or nothing (an empty file imports no task).
    pub(super) fn task_file(&mut self, handlers: bool) -> Vec<Task> {
        if self.src.text.trim().is_empty() {
            return Vec::new();
        }
        match self.src.parse(TopLevel::Sequence) {
            Ok(node) => self.tasks(&node, handlers),
            Err(d) => {
                self.diags.push(d);
                Vec::new()
            }
        }
    }

    /// Whether a task-list entry is an import statement rather than a task.
    pub(super) fn is_import(&self, map: &MarkedMappingNode) -> bool {
        map.keys().any(|k| import_of(k.as_str()).is_some())
    }

    /// Expand an import statement into the tasks it imports.
    pub(super) fn import(&mut self, map: &MarkedMappingNode, handlers: bool) -> Vec<Task> {
        let Some((key, value, kind)) = map
            .iter()
            .find_map(|(k, v)| import_of(k.as_str()).map(|i| (k, v, i)))
        else {
            return Vec::new();
        };
        let kloc = self.key_loc(key);
        match kind {
            Import::BareInclude => {
                self.error(
                    format!("`{}` was removed in ansible-core 2.16", key.as_str()),
                    kloc,
                )
                .hint(
                    "use `import_tasks` (static: read before the play runs) or `include_tasks` \
                     (dynamic: read when the task is reached); for a playbook, `import_playbook` \
                     at the top level",
                );
                Vec::new()
            }
            Import::Tasks => self.import_tasks(map, key, value, handlers),
            Import::Role if handlers => {
                self.error(format!("`{}` cannot be a handler", key.as_str()), kloc)
                    .hint("import the role in a task list; its handlers join the play's");
                Vec::new()
            }
            Import::Role => self.import_role(map, key, value),
        }
    }

    fn import_tasks(
        &mut self,
        map: &MarkedMappingNode,
        key: &MarkedScalarNode,
        value: &Node,
        handlers: bool,
    ) -> Vec<Task> {
        let errors_before = self.diags.len();
        let kloc = self.key_loc(key);
        let Some(statement) = self.import_statement(map, key, handlers) else {
            return Vec::new();
        };
        let Some(target) = self.import_target(key.as_str(), value) else {
            return Vec::new();
        };
        if self.diags.len() > errors_before {
            return Vec::new();
        }
        let Some(path) = self.find_task_file(&target, handlers, value) else {
            return Vec::new();
        };
        let mut tasks = self.load_imported(&path, kloc, handlers);
        for task in &mut tasks {
            inherit(task, &statement);
        }
        tasks
    }

    /// The keywords of an import statement, as a block-like task its imported tasks
    /// inherit from. Loops are refused as Ansible refuses them.
    pub(super) fn import_statement(
        &mut self,
        map: &MarkedMappingNode,
        key: &MarkedScalarNode,
        handlers: bool,
    ) -> Option<Task> {
        let errors_before = self.diags.len();
        let action = key.as_str();
        let loc = self.mapping_loc(map);
        let mut statement = empty_task(loc, "import".into(), self.key_loc(key));
        statement.origin = self.origin.clone();
        let (mut args, mut arg_locs) = (Map::new(), IndexMap::new());
        for (k, v) in map.iter() {
            let name = k.as_str();
            if name == action {
                continue;
            }
            let at = self.key_loc(k);
            if name == "loop" || name.starts_with("with_") {
                let short = action.rsplit('.').next().unwrap_or(action);
                let dynamic = short.replace("import_", "include_");
                self.error(format!("you cannot use loops on `{short}` statements"), at)
                    .hint(format!("use `{dynamic}` instead, which is read for each item"));
                continue;
            }
            if IMPORT_KEYWORDS.contains(&name) || (handlers && name == "listen") {
                statement.keyword_locs.insert(name.to_owned(), at);
                self.task_keyword(&mut statement, k, v, handlers, &mut args, &mut arg_locs);
                continue;
            }
            let hint = did_you_mean(name, IMPORT_KEYWORDS.iter().copied())
                .unwrap_or_else(|| format!("`{action}` takes {}", IMPORT_KEYWORDS.join(", ")));
            self.error(format!("`{name}` is not a keyword of `{action}`"), at)
                .hint(hint);
        }
        (self.diags.len() == errors_before).then_some(statement)
    }

    /// The file an `import_tasks` names: `import_tasks: x.yml` or `file: x.yml` under it.
    fn import_target(&mut self, action: &str, value: &Node) -> Option<String> {
        let loc = self.loc(value);
        let target = match value {
            Node::Scalar(_) => self.string(action, value),
            Node::Mapping(m) => {
                let mut file = None;
                for (k, v) in m.iter() {
                    match k.as_str() {
                        "file" | "_raw_params" => file = self.string("file", v),
                        other => {
                            let at = self.key_loc(k);
                            self.error(format!("`{other}` is not an argument of `{action}`"), at)
                                .hint("its one argument is `file`; keywords such as `vars` go beside it");
                        }
                    }
                }
                file
            }
            Node::Sequence(_) => {
                self.error(format!("`{action}` takes a file name, found a list"), loc.clone());
                return None;
            }
        };
        match target {
            Some(t) if crate::template::Templater::is_template(&t) => {
                self.error(
                    format!("a templated `{action}` file is not supported by zdd yet"),
                    loc,
                )
                .hint("name the file directly");
                None
            }
            Some(t) => Some(t),
            None => {
                self.error(format!("`{action}` names no file"), loc)
                    .hint(format!("write `{action}: tasks/file.yml`"));
                None
            }
        }
    }

    /// The file `target` resolves to from this file, or an error at `at` listing where it
    /// was looked for.
    fn find_task_file(&mut self, target: &str, handlers: bool, at: &Node) -> Option<PathBuf> {
        match resolve_tasks_file(target, &self.origin, handlers) {
            Ok(path) => Some(path),
            Err(searched) => {
                let loc = self.loc(at);
                let places: Vec<String> = searched.iter().map(|p| display_path(p)).collect();
                self.error(format!("task file `{target}` not found"), loc)
                    .hint(format!("looked for {}", places.join(", ")));
                None
            }
        }
    }

    /// Load an imported file of tasks reached by the statement at `at`, its problems
    /// joining this file's.
    pub(super) fn load_imported(&mut self, path: &Path, at: Location, handlers: bool) -> Vec<Task> {
        if let Some(cycle) = self.origin.cycle(path) {
            self.error(format!("`{}` imports itself: {cycle}", display_path(path)), at)
                .hint("an import is read before the play runs, so a loop of imports never ends");
            return Vec::new();
        }
        if self.origin.frames().len() >= MAX_DEPTH {
            self.error(format!("imports nested deeper than {MAX_DEPTH} files"), at);
            return Vec::new();
        }
        let chain = self.origin.include(at, path);
        match load_tasks_with(path, &chain, handlers, self.roles.clone()) {
            Ok(tasks) => tasks,
            Err(Error::Invalid(ds)) => {
                self.diags.extend(ds);
                Vec::new()
            }
            Err(e) => {
                self.diags
                    .push(Diagnostic::new(e.to_string()).included_from(&chain.locations()));
                Vec::new()
            }
        }
    }

    /// `import_role`: the role's tasks in place, inheriting the statement's keywords; its
    /// handlers after the play's.
    fn import_role(&mut self, map: &MarkedMappingNode, key: &MarkedScalarNode, value: &Node) -> Vec<Task> {
        let action = key.as_str();
        let Some(mut statement) = self.import_statement(map, key, false) else {
            return Vec::new();
        };
        let Node::Mapping(args) = value else {
            let loc = self.loc(value);
            self.error(format!("`{action}` takes a mapping of arguments"), loc)
                .hint(format!("write `{action}:` then `name: ROLE` on the next line"));
            return Vec::new();
        };
        const ARGS: &[&str] = &[
            "name",
            "role",
            "tasks_from",
            "vars_from",
            "defaults_from",
            "handlers_from",
            "allow_duplicates",
            "public",
            "rolespec_validate",
        ];
        let mut name = None;
        let mut from = FromFiles::default();
        let mut allow_duplicates = None;
        for (k, v) in args.iter() {
            let arg = k.as_str();
            match arg {
                "name" | "role" => name = self.string(arg, v).map(|n| (n, self.loc(v))),
                "tasks_from" => from.tasks = self.string(arg, v),
                "vars_from" => from.vars = self.string(arg, v),
                "defaults_from" => from.defaults = self.string(arg, v),
                "handlers_from" => from.handlers = self.string(arg, v),
                "allow_duplicates" => allow_duplicates = self.boolean(arg, v),
                // An imported role is public (its variables are the play's) and
                // argument specs are not validated by zdd.
                "public" | "rolespec_validate" => {
                    let _ = self.boolean(arg, v);
                }
                "apply" => {
                    let at = self.key_loc(k);
                    self.error(format!("`apply` is for `include_role`, not `{action}`"), at)
                        .hint("put the keywords on the import itself: its tasks inherit them");
                }
                _ => {
                    let at = self.key_loc(k);
                    self.error(format!("`{arg}` is not an argument of `{action}`"), at)
                        .hint_opt(did_you_mean(arg, ARGS.iter().copied()));
                }
            }
        }
        let Some((name, name_loc)) = name else {
            let loc = self.key_loc(key);
            self.error(format!("`{action}` names no role"), loc)
                .hint("add `name: ROLE`");
            return Vec::new();
        };
        for from_name in [&from.tasks, &from.vars, &from.defaults, &from.handlers]
            .into_iter()
            .flatten()
        {
            if crate::template::Templater::is_template(from_name) {
                self.error(
                    format!("a templated `*_from` of `{action}` is not supported by zdd yet"),
                    name_loc.clone(),
                )
                .hint("name the file directly");
                return Vec::new();
            }
        }
        // `vars` on the import are the role's `vars:`, not task vars.
        let vars = std::mem::take(&mut statement.vars);
        let parents: Vec<String> = match &self.origin.role {
            Some(parent) => std::iter::once(parent.name.clone())
                .chain(parent.parents.iter().cloned())
                .collect(),
            None => Vec::new(),
        };
        let entry = super::roles::RoleEntry {
            name,
            loc: name_loc,
            statement,
            vars,
            params: crate::vars::VarMap::new(),
        };
        if crate::template::Templater::is_template(&entry.name) {
            self.error(
                "a templated role name is not supported by zdd yet",
                entry.loc.clone(),
            )
            .hint("name the role directly");
            return Vec::new();
        }
        let Some(expanded) = self.expand_role(&entry, &from, &[], allow_duplicates, &parents) else {
            return Vec::new();
        };
        let mut state = self.roles.borrow_mut();
        state.public.push(expanded.role.clone());
        state.late_handlers.extend(expanded.handlers);
        expanded.tasks
    }
}
