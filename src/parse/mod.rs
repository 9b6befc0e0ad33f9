//! YAML playbook text -> `Playbook`, with a location for every play, task, key and value.
//!
//! Every problem of a file is collected (not just the first) and returned as one
//! `Error::Invalid`. Whether a module exists and accepts its arguments is left to
//! `validate`, so that those problems are collected too.

mod imports;
mod keywords;
pub mod kv;
mod playbooks;
mod roles;
mod task;

use crate::error::{did_you_mean, Diagnostic, Error, Location};
use crate::playbook::{BecomeOpts, IncludeChain, Play, Playbook, Serial, TemplatedKeyword};
use crate::vars::VarMap;
use crate::yaml::{self, MarkedMappingNode, MarkedScalarNode, Source, TopLevel};
use marked_yaml::Node;
use serde_json::Value;
use std::path::{Path, PathBuf};
use std::sync::Arc;

pub use imports::{load_tasks_file, resolve_tasks_file};
pub use keywords::{fill_defaults, module_defaults_for, ACTION_GROUPS};
#[cfg(test)]
pub(crate) use task::empty_task;
pub(crate) use task::inherit;
pub use task::{TASK_KEYWORDS, UNSUPPORTED_TASK_KEYWORDS};

/// The play keywords zdd understands.
pub const PLAY_KEYWORDS: &[&str] = &[
    "name",
    "hosts",
    "serial",
    "become",
    "become_method",
    "become_user",
    "gather_facts",
    "fact_path",
    "vars",
    "vars_files",
    "pre_tasks",
    "tasks",
    "post_tasks",
    "handlers",
    "max_fail_percentage",
    "any_errors_fatal",
    "force_handlers",
    "connection",
    "strategy",
    "tags",
    "order",
    "roles",
    "remote_user",
    "port",
    "environment",
    "vars_prompt",
    "module_defaults",
    "collections",
    "no_log",
    "ignore_errors",
    "ignore_unreachable",
    "run_once",
    "timeout",
];

/// Ansible play keywords zdd does not support yet, with what to do instead.
pub const UNSUPPORTED_PLAY_KEYWORDS: &[(&str, &str)] = &[
    (
        "import_playbook",
        "`import_playbook` is a playbook entry of its own: `- import_playbook: other.yml`",
    ),
    ("include", "run the playbooks one after the other"),
    ("include_playbook", "run the playbooks one after the other"),
    ("block", "list the tasks directly"),
    (
        "gather_subset",
        "remove it: zdd gathers its own small set of facts",
    ),
    ("gather_timeout", "remove it"),
    ("throttle", "use `serial`"),
    ("check_mode", "use `zdd apply --check`"),
    ("diff", "use `zdd apply --diff`"),
    ("become_flags", "remove it"),
    ("become_exe", "remove it"),
    ("debugger", "remove it"),
];

/// Read and parse a playbook file.
pub fn load_playbook(path: &Path) -> Result<Playbook, Error> {
    let src = Source::read(path).map_err(Error::invalid)?;
    let dir = match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
        _ => PathBuf::from("."),
    };
    let dir = std::path::absolute(&dir).unwrap_or(dir);
    let mut p = Parser::new(&src);
    let absolute = std::path::absolute(path).unwrap_or_else(|_| path.to_path_buf());
    p.origin = Arc::new(IncludeChain::new(&absolute, &dir));
    let plays = p.playbook(&dir);
    p.finish()?;
    Ok(Playbook {
        path: path.to_path_buf(),
        dir,
        plays,
    })
}

/// `-e @vars.yml` and `vars_files`: a YAML (or JSON) mapping of variables.
pub fn load_vars_file(path: &Path) -> Result<VarMap, Error> {
    let src = Source::read(path).map_err(Error::invalid)?;
    vars_from_source(&src)
}

fn vars_from_source(src: &Source) -> Result<VarMap, Error> {
    let node = src.parse(TopLevel::Mapping).map_err(Error::invalid)?;
    let mut p = Parser::new(src);
    let vars = p.vars(&node);
    p.finish()?;
    if src.vaulted {
        vars.values().for_each(crate::vault::register_secrets_in);
        vars.keys()
            .for_each(|name| crate::vault::register_secret_name(name));
    }
    Ok(vars)
}

/// `-e` text: `k=v k2='v 2'` (values are strings, as in Ansible), a JSON/YAML mapping, or
/// `@file.yml`.
pub fn parse_extra_vars(text: &str) -> Result<VarMap, Error> {
    let trimmed = text.trim();
    if let Some(file) = trimmed.strip_prefix('@') {
        return load_vars_file(Path::new(file));
    }
    if trimmed.is_empty() {
        return Ok(VarMap::new());
    }
    if !trimmed.starts_with('{') && kv::all_key_values(trimmed) {
        let parsed = kv::key_values(trimmed);
        return Ok(parsed.args.into_iter().collect());
    }
    let src = Source::new("<extra vars>", text);
    vars_from_source(&src).map_err(|e| match e {
        Error::Invalid(mut ds) => {
            for d in &mut ds {
                if d.hint.is_none() {
                    d.hint = Some("`-e` takes `key=value` pairs, a JSON or YAML mapping, or `@file`".into());
                }
            }
            Error::Invalid(ds)
        }
        other => other,
    })
}

/// A diagnostic just recorded, to add its hint.
pub(crate) struct Recorded<'a>(&'a mut Diagnostic);

impl Recorded<'_> {
    pub fn hint(self, hint: impl Into<String>) {
        self.0.hint = Some(hint.into());
    }

    pub fn hint_opt(self, hint: Option<String>) {
        self.0.hint = hint;
    }
}

/// Turns marked YAML nodes into the model, collecting every problem on the way.
pub(crate) struct Parser<'s> {
    pub src: &'s Source,
    pub diags: Vec<Diagnostic>,
    /// How this file was reached; every task parsed here carries it.
    pub origin: Arc<IncludeChain>,
    /// The roles of the play being loaded, shared by the files it imports.
    pub(crate) roles: std::rc::Rc<std::cell::RefCell<roles::PlayRoles>>,
}

impl<'s> Parser<'s> {
    pub fn new(src: &'s Source) -> Self {
        Parser {
            src,
            diags: Vec::new(),
            origin: Arc::default(),
            roles: Default::default(),
        }
    }

    /// Every problem found, each with the chain of imports that led to its file.
    fn finish(self) -> Result<(), Error> {
        if self.diags.is_empty() {
            Ok(())
        } else {
            let chain = self.origin.locations();
            Err(Error::Invalid(
                self.diags.into_iter().map(|d| d.included_from(&chain)).collect(),
            ))
        }
    }

    pub fn loc(&self, node: &Node) -> Location {
        self.src.node_location(node)
    }

    pub fn key_loc(&self, key: &MarkedScalarNode) -> Location {
        self.src.span_location(key.span())
    }

    /// Where a mapping was written: its first key (the parser's own mark for a block
    /// mapping is after it).
    pub fn mapping_loc(&self, map: &MarkedMappingNode) -> Location {
        match map.keys().next() {
            Some(k) => self.key_loc(k),
            None => self.src.span_location(map.span()),
        }
    }

    /// Record a problem at `loc`; returns it to add a hint.
    pub fn error(&mut self, message: impl Into<String>, loc: Location) -> Recorded<'_> {
        self.diags.push(self.src.diag(message, loc));
        Recorded(self.diags.last_mut().expect("just pushed"))
    }

    pub(super) fn playbook(&mut self, dir: &Path) -> Vec<Play> {
        let root = match self.src.parse(TopLevel::Sequence) {
            Ok(n) => n,
            Err(d) => {
                self.diags.push(d);
                return Vec::new();
            }
        };
        let Node::Sequence(items) = &root else {
            unreachable!("parsed as a sequence")
        };
        let mut plays = Vec::new();
        for item in items.iter() {
            match item {
                Node::Mapping(m) if self.is_playbook_import(m) => plays.extend(self.import_playbook(m)),
                Node::Mapping(m) => plays.extend(self.play(m, dir)),
                other => {
                    let loc = self.loc(other);
                    self.error(
                        format!("a play must be a mapping, found {}", yaml::kind(other)),
                        loc,
                    )
                    .hint("start the play with `- hosts: ...`");
                }
            }
        }
        plays
    }

    fn play(&mut self, map: &MarkedMappingNode, dir: &Path) -> Option<Play> {
        let loc = self.mapping_loc(map);
        let errors_before = self.diags.len();
        // `gathering` and `any_errors_fatal` of the Ansible configuration: the defaults of
        // the play keywords (a bad configuration was reported before any playbook is read).
        let (gather_by_default, fatal_by_default) = crate::config::AnsibleConfig::current()
            .map(|c| {
                (
                    c.gathering.value != crate::config::Gathering::Explicit,
                    c.any_errors_fatal.value,
                )
            })
            .unwrap_or((true, false));
        let mut play = Play {
            loc: loc.clone(),
            name: None,
            hosts: String::new(),
            serial: Vec::new(),
            privilege: BecomeOpts::default(),
            gather_facts: gather_by_default,
            fact_path: None,
            vars: VarMap::new(),
            vars_files: Vec::new(),
            pre_tasks: Vec::new(),
            tasks: Vec::new(),
            post_tasks: Vec::new(),
            handlers: Vec::new(),
            max_fail_percentage: None,
            any_errors_fatal: fatal_by_default,
            force_handlers: false,
            connection: None,
            order: None,
            tags: Vec::new(),
            roles: Vec::new(),
            templated: Vec::new(),
            run: Default::default(),
            prompts: Vec::new(),
            when: Vec::new(),
        };
        // The play's task keywords, which its tasks and handlers inherit.
        let mut inherited = task::empty_task(loc.clone(), "play".into(), loc.clone());
        let mut has_hosts = false;
        let mut file_vars = VarMap::new();
        let mut play_tags: Vec<String> = Vec::new();
        // Roles are loaded before the play's task lists, as Ansible does: a role named
        // again by an `import_role` is then the repeat.
        self.roles = Default::default();
        self.roles.borrow_mut().play = Some(loc.clone());
        let (role_tasks, role_handlers) = match map.get_node("roles") {
            Some(node) => self.play_roles(node),
            None => (Vec::new(), Vec::new()),
        };
        for (key, value) in map.iter() {
            let k = key.as_str();
            let kloc = self.key_loc(key);
            match k {
                "name" => play.name = self.string(k, value),
                "hosts" => {
                    has_hosts = true;
                    play.hosts = self.hosts(value).unwrap_or_default();
                }
                "serial" => {
                    if serial_is_templated(value) {
                        play.templated.push(TemplatedKeyword {
                            key: k.into(),
                            value: yaml::to_value(value),
                            loc: self.loc(value),
                        });
                    } else {
                        play.serial = self.serial(value);
                    }
                }
                "become" => play.privilege.enabled = self.flag(k, value, &mut play.templated),
                "become_method" => play.privilege.method = self.become_method(value),
                "become_user" => play.privilege.user = self.string(k, value),
                "gather_facts" => {
                    play.gather_facts = self.flag(k, value, &mut play.templated).unwrap_or(true)
                }
                "fact_path" => play.fact_path = Some(yaml::to_value(value)),
                "vars" => play.vars = self.vars(value),
                "vars_files" => {
                    for (path, vars) in self.vars_files(value, dir) {
                        play.vars_files.push(path);
                        file_vars.extend(vars);
                    }
                }
                "pre_tasks" => play.pre_tasks = self.tasks(value, false),
                "tasks" => play.tasks = self.tasks(value, false),
                "post_tasks" => play.post_tasks = self.tasks(value, false),
                "handlers" => play.handlers = self.tasks(value, true),
                "max_fail_percentage" => match value {
                    Node::Scalar(s) if crate::template::Templater::is_template(s.as_str()) => {
                        play.templated.push(TemplatedKeyword {
                            key: k.into(),
                            value: Value::String(s.as_str().to_owned()),
                            loc: self.loc(value),
                        })
                    }
                    _ => play.max_fail_percentage = self.percentage(k, value),
                },
                // A template is non-empty text, which Ansible's strategy takes as true before
                // each task renders it (and fails a host where it is no boolean).
                "any_errors_fatal" => {
                    play.any_errors_fatal = self
                        .flag(k, value, &mut play.templated)
                        .unwrap_or_else(|| play.templated.iter().any(|t| t.key == k))
                }
                "force_handlers" => {
                    play.force_handlers = self.flag(k, value, &mut play.templated).unwrap_or(false)
                }
                "connection" => play.connection = self.string(k, value),
                "order" => {
                    const ORDERS: &[&str] = &[
                        "inventory",
                        "reverse_inventory",
                        "sorted",
                        "reverse_sorted",
                        "shuffle",
                    ];
                    play.order = self.string(k, value);
                    if let Some(o) = play.order.as_deref().filter(|o| !ORDERS.contains(o)) {
                        let hint = did_you_mean(o, ORDERS.iter().copied())
                            .unwrap_or_else(|| format!("`order` is one of {}", ORDERS.join(", ")));
                        let vloc = self.loc(value);
                        self.error(format!("unknown host order `{o}`"), vloc).hint(hint);
                    }
                }
                "strategy" => {
                    let s = self.string(k, value);
                    if s.as_deref().is_some_and(|s| s != "linear") {
                        let vloc = self.loc(value);
                        self.error(
                            format!("strategy `{}` is not supported by zdd yet", s.unwrap_or_default()),
                            vloc,
                        )
                        .hint("zdd runs plays with the `linear` strategy; remove this line");
                    }
                }
                "remote_user" => play.run.remote_user = self.string(k, value),
                "port" => play.run.port = self.string(k, value),
                "environment" => play.run.environment = self.environment(value),
                "module_defaults" => play.run.module_defaults = self.module_defaults(value),
                "timeout" => play.run.timeout = Some(yaml::to_value(value)),
                "collections" => {
                    let _ = self.string_list(k, value);
                }
                "vars_prompt" => play.prompts = self.vars_prompt(value),
                // Written as a template, the flag passes down as one (`INHERITED_FROM_PLAY`).
                "no_log" | "run_once" | "ignore_unreachable" => {
                    if let Some(b) = self.flag(k, value, &mut play.templated) {
                        inherited.keyword_locs.insert(k.to_owned(), kloc);
                        *task::flag(&mut inherited, k) = b;
                    }
                }
                "ignore_errors" => inherited.ignore_errors = Some(yaml::to_value(value)),

                // The play's tags pass down to its tasks (for `--tags`).
                "tags" => play_tags = self.string_list(k, value),
                "roles" => {}
                _ => self.unknown_play_key(k, kloc),
            }
        }
        // Roles run after `pre_tasks` (and their handlers) and before `tasks`; their
        // handlers come before the play's, those of `import_role`s after.
        let mut tasks = role_tasks;
        tasks.append(&mut play.tasks);
        play.tasks = tasks;
        let mut handlers = role_handlers;
        handlers.append(&mut play.handlers);
        handlers.append(&mut self.roles.borrow_mut().late_handlers);
        play.handlers = handlers;
        play.roles = std::mem::take(&mut self.roles.borrow_mut().public);
        if !has_hosts {
            self.error("this play has no `hosts`", loc.clone())
                .hint("add `hosts: all` or a group of the inventory");
        }
        let play_tags: Vec<String> = play_tags
            .iter()
            .flat_map(|t| t.split(','))
            .map(|t| t.trim().to_owned())
            .filter(|t| !t.is_empty())
            .collect();
        for t in play
            .pre_tasks
            .iter_mut()
            .chain(&mut play.tasks)
            .chain(&mut play.post_tasks)
        {
            task::inherit_tags(t, &play_tags);
        }
        play.tags = play_tags;
        inherited.run = play.run.clone();
        // Keywords the tasks inherit from the play as templates are rendered on each host.
        let templated: Vec<TemplatedKeyword> = play
            .templated
            .iter()
            .filter(|t| task::INHERITED_FROM_PLAY.contains(&t.key.as_str()))
            .cloned()
            .collect();
        for t in play
            .pre_tasks
            .iter_mut()
            .chain(&mut play.tasks)
            .chain(&mut play.post_tasks)
            .chain(&mut play.handlers)
        {
            task::inherit(t, &inherited);
            keywords::apply_module_defaults(t);
            task::inherit_templated(t, &templated);
        }
        // vars_files come above play vars, in the order they are listed.
        play.vars.extend(file_vars);
        (self.diags.len() == errors_before).then_some(play)
    }

    fn unknown_play_key(&mut self, key: &str, loc: Location) {
        if let Some((message, fix)) = task::removed_keyword(key) {
            self.error(message, loc).hint(fix);
        } else if let Some((_, hint)) = UNSUPPORTED_PLAY_KEYWORDS.iter().find(|(k, _)| *k == key) {
            self.error(format!("`{key}` is not supported by zdd yet"), loc)
                .hint(*hint);
        } else if TASK_KEYWORDS.contains(&key) || crate::modules::registry().get(key).is_some() {
            self.error(format!("`{key}` is a task keyword, not a play keyword"), loc)
                .hint("put it in a task under `tasks:`");
        } else {
            let hint = did_you_mean(key, PLAY_KEYWORDS.iter().copied());
            self.error(format!("unknown play keyword `{key}`"), loc)
                .hint_opt(hint);
        }
    }

    fn hosts(&mut self, node: &Node) -> Option<String> {
        match node {
            Node::Sequence(items) => {
                let parts: Vec<String> = items.iter().filter_map(|n| self.string("hosts", n)).collect();
                Some(parts.join(":"))
            }
            _ => {
                let h = self.string("hosts", node);
                if h.as_deref().is_none_or(str::is_empty) {
                    let loc = self.loc(node);
                    self.error("`hosts` is empty", loc)
                        .hint("write a host pattern such as `all`");
                }
                h
            }
        }
    }

    fn serial(&mut self, node: &Node) -> Vec<Serial> {
        match node {
            Node::Sequence(items) => items.iter().filter_map(|n| self.serial_one(n)).collect(),
            _ => self.serial_one(node).into_iter().collect(),
        }
    }

    fn serial_one(&mut self, node: &Node) -> Option<Serial> {
        let loc = self.loc(node);
        let Node::Scalar(s) = node else {
            self.error(
                format!(
                    "`serial` must be a number or a percentage, found {}",
                    yaml::kind(node)
                ),
                loc,
            );
            return None;
        };
        match serial_from_text(s.as_str()) {
            Ok(serial) => Some(serial),
            Err(bad) => {
                self.error(bad.message, loc).hint(bad.hint);
                None
            }
        }
    }

    fn percentage(&mut self, key: &str, node: &Node) -> Option<f64> {
        let loc = self.loc(node);
        let text = self.string(key, node)?;
        let number = text.trim().trim_end_matches('%').trim();
        match number.parse::<f64>() {
            Ok(p) if (0.0..=100.0).contains(&p) => Some(p),
            _ => {
                self.error(format!("`{key}: {text}` is not a percentage from 0 to 100"), loc);
                None
            }
        }
    }

    pub fn become_method(&mut self, node: &Node) -> Option<String> {
        let method = self.string("become_method", node)?;
        if !crate::host::BECOME_METHODS.contains(&method.as_str()) {
            let loc = self.loc(node);
            self.error(format!("`become_method: {method}` is not supported by zdd"), loc)
                .hint("zdd becomes another user with `sudo` or `su`");
        }
        Some(method)
    }

    /// A mapping of variables (`vars:`, a vars file).
    pub fn vars(&mut self, node: &Node) -> VarMap {
        match node {
            Node::Mapping(m) => {
                let mut vars = VarMap::new();
                for (k, v) in m.iter() {
                    if !kv::is_identifier(k.as_str()) {
                        let loc = self.key_loc(k);
                        self.error(format!("`{}` is not a valid variable name", k.as_str()), loc)
                            .hint("variable names are letters, digits and `_`, not starting with a digit");
                    }
                    vars.insert(k.as_str().to_owned(), yaml::to_value(v));
                }
                vars
            }
            Node::Scalar(s) if s.may_coerce() && matches!(s.as_str(), "" | "~" | "null") => VarMap::new(),
            other => {
                let loc = self.loc(other);
                self.error(
                    format!("variables must be a mapping, found {}", yaml::kind(other)),
                    loc,
                )
                .hint("write `name: value` lines");
                VarMap::new()
            }
        }
    }

    fn vars_files(&mut self, node: &Node, dir: &Path) -> Vec<(PathBuf, VarMap)> {
        let items: Vec<&Node> = match node {
            Node::Sequence(items) => items.iter().collect(),
            other => vec![other],
        };
        let mut out = Vec::new();
        for item in items {
            let loc = self.loc(item);
            let Some(name) = self.string("vars_files", item) else {
                continue;
            };
            if crate::template::Templater::is_template(&name) {
                self.error("a templated `vars_files` entry is not supported by zdd yet", loc)
                    .hint("name the file directly");
                continue;
            }
            let path = dir.join(&name);
            if !path.is_file() {
                self.error(format!("vars file `{name}` not found"), loc)
                    .hint(format!("looked for {}", path.display()));
                continue;
            }
            match load_vars_file(&path) {
                Ok(vars) => out.push((path, vars)),
                Err(Error::Invalid(ds)) => self.diags.extend(ds),
                Err(e) => {
                    self.error(e.to_string(), loc);
                }
            }
        }
        out
    }

    /// A scalar as text; `None` (and no error) for an empty value.
    pub fn string(&mut self, key: &str, node: &Node) -> Option<String> {
        match node {
            Node::Scalar(s) => {
                if s.may_coerce() && matches!(s.as_str(), "" | "~" | "null" | "Null" | "NULL") {
                    None
                } else {
                    Some(s.as_str().to_owned())
                }
            }
            other => {
                let loc = self.loc(other);
                self.error(
                    format!("`{key}` must be a string, found {}", yaml::kind(other)),
                    loc,
                );
                None
            }
        }
    }

    /// The items of a keyword that takes a list: none for an empty value (nothing, `~`,
    /// `null`); anything else that is not a list is an error (`WHAT must be a list`).
    pub fn list_items<'n>(&mut self, what: &str, node: &'n Node, hint: &str) -> Vec<&'n Node> {
        match node {
            Node::Sequence(items) => items.iter().collect(),
            Node::Scalar(s) if s.may_coerce() && matches!(s.as_str(), "" | "~" | "null") => Vec::new(),
            other => {
                let loc = self.loc(other);
                self.error(format!("{what} must be a list, found {}", yaml::kind(other)), loc)
                    .hint(hint);
                Vec::new()
            }
        }
    }

    /// A string or a list of strings.
    pub fn string_list(&mut self, key: &str, node: &Node) -> Vec<String> {
        match node {
            Node::Sequence(items) => items.iter().filter_map(|n| self.string(key, n)).collect(),
            _ => self.string(key, node).into_iter().collect(),
        }
    }

    /// A boolean keyword Ansible templates: a template is kept in `templated` for later (the
    /// result is `None`); anything else must be a boolean now.
    pub fn flag(&mut self, key: &str, node: &Node, templated: &mut Vec<TemplatedKeyword>) -> Option<bool> {
        if let Node::Scalar(s) = node {
            if crate::template::Templater::is_template(s.as_str()) {
                templated.retain(|t| t.key != key);
                templated.push(TemplatedKeyword {
                    key: key.to_owned(),
                    value: Value::String(s.as_str().to_owned()),
                    loc: self.loc(node),
                });
                return None;
            }
        }
        self.boolean(key, node)
    }

    /// A boolean as Ansible reads one: `yes`, `true`, `on`, quoted or not, or 1/0.
    pub fn boolean(&mut self, key: &str, node: &Node) -> Option<bool> {
        let loc = self.loc(node);
        let text = match node {
            Node::Scalar(s) => s.as_str().trim().to_owned(),
            other => {
                self.error(
                    format!("`{key}` must be true or false, found {}", yaml::kind(other)),
                    loc,
                );
                return None;
            }
        };
        if let Some(b) = yaml::yaml11_bool(&text) {
            return Some(b);
        }
        match text.as_str() {
            "1" => return Some(true),
            "0" => return Some(false),
            _ => {}
        }
        self.error(format!("`{key}` must be true or false, found `{text}`"), loc)
            .hint("write true or false, or a template that renders to one");
        None
    }
}

/// Whether `serial` (a value or a list) holds a template: then it is rendered before the
/// play starts, with the play's vars and `-e`.
fn serial_is_templated(node: &Node) -> bool {
    match node {
        Node::Scalar(s) => crate::template::Templater::is_template(s.as_str()),
        Node::Sequence(items) => items.iter().any(serial_is_templated),
        Node::Mapping(_) => false,
    }
}

/// Why a `serial` entry is not a batch size.
#[derive(Debug, Clone, PartialEq)]
pub struct BadSerial {
    pub message: String,
    pub hint: String,
}

/// One `serial` entry as text (written, or rendered from a template): a number of hosts
/// or a percentage of the play's hosts.
pub fn serial_from_text(text: &str) -> Result<Serial, BadSerial> {
    let text = text.trim();
    let bad = |message: String, hint: &str| BadSerial {
        message,
        hint: hint.to_owned(),
    };
    if let Some(pct) = text.strip_suffix('%') {
        return match pct.trim().parse::<f64>() {
            Ok(p) if p > 0.0 && p <= 100.0 => Ok(Serial::Percent(p)),
            Ok(p) => Err(bad(
                format!("`serial: {p}%` is out of range"),
                "a percentage of the play's hosts must be above 0% and at most 100%",
            )),
            Err(_) => Err(bad(
                format!("`serial: {text}` is not a percentage"),
                "write it as `\"30%\"`",
            )),
        };
    }
    match text.parse::<i64>() {
        Ok(n) if n >= 0 => Ok(Serial::Count(n as usize)),
        Ok(n) => Err(bad(
            format!("`serial: {n}` is negative"),
            "a batch size is a number of hosts (0 means all at once)",
        )),
        Err(_) => Err(bad(
            format!("`serial: {text}` is not a number of hosts or a percentage"),
            "write `serial: 2` or `serial: \"30%\"`",
        )),
    }
}

#[cfg(test)]
mod tests;
