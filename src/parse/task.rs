//! One task: its module and arguments (a mapping, `key=value` text, free-form text,
//! `action:`/`local_action:`), and its keywords.

use super::{kv, Parser};
use crate::error::{closest, did_you_mean, Location};
use crate::modules::{builtin_name, registry, task_module_name};
use crate::playbook::{BecomeOpts, Block, Include, Loop, LoopControl, RunKeywords, Task, TemplatedKeyword};
use crate::vars::VarMap;
use crate::yaml::{self, MarkedMappingNode, MarkedScalarNode};
use indexmap::IndexMap;
use marked_yaml::Node;
use serde_json::{Map, Value};

/// The task keywords zdd understands.
pub const TASK_KEYWORDS: &[&str] = &[
    "name",
    "delegate_to",
    "delegate_facts",
    "run_once",
    "with_items",
    "with_list",
    "with_dict",
    "with_indexed_items",
    "with_sequence",
    "throttle",
    "any_errors_fatal",
    "loop",
    "loop_control",
    "when",
    "register",
    "until",
    "retries",
    "delay",
    "notify",
    "listen",
    "become",
    "become_user",
    "become_method",
    "ignore_errors",
    "ignore_unreachable",
    "changed_when",
    "failed_when",
    "vars",
    "tags",
    "no_log",
    "check_mode",
    "connection",
    "args",
    "action",
    "local_action",
    "remote_user",
    "port",
    "environment",
    "module_defaults",
    "collections",
    "timeout",
    "async",
    "poll",
    "with_nested",
    "with_cartesian",
    "with_together",
    "with_subelements",
    "with_fileglob",
    "with_first_found",
    "with_lines",
];

/// Keywords Ansible removed, with what replaced them: ansible-core refuses them too (a
/// task's `sudo` is "conflicting action statements", a play's "not a valid attribute").
pub const REMOVED_KEYWORDS: &[(&str, &str)] = &[
    ("sudo", "write `become: true` (zdd becomes through sudo)"),
    ("sudo_user", "write `become_user: USER` (with `become: true`)"),
    ("su", "write `become: true`; zdd becomes through sudo only"),
    ("su_user", "write `become_user: USER` (with `become: true`)"),
    (
        "sudo_pass",
        "remove it: zdd runs `sudo -n`, so the user needs passwordless sudo",
    ),
    (
        "su_pass",
        "remove it: zdd runs `sudo -n`, so the user needs passwordless sudo",
    ),
];

/// Ansible's refusal of a removed keyword, with the fix; `None` for any other key.
pub(crate) fn removed_keyword(key: &str) -> Option<(String, &'static str)> {
    let (_, fix) = REMOVED_KEYWORDS.iter().find(|(k, _)| *k == key)?;
    Some((
        format!("`{key}` was removed from Ansible: ansible-core refuses it as well"),
        fix,
    ))
}

/// Ansible task keywords (and task-like actions) zdd does not support yet, with what to
/// do instead.
pub const UNSUPPORTED_TASK_KEYWORDS: &[(&str, &str)] = &[
    (
        "import_playbook",
        "`import_playbook` goes at the top level of a playbook, beside the plays",
    ),
    ("roles", "`roles` is a play keyword: put it beside `tasks:`"),
    ("diff", "use `zdd apply --diff`"),
    ("debugger", "remove it"),
    ("become_flags", "remove it"),
    ("become_exe", "remove it"),
];

fn unsupported_hint(key: &str) -> Option<&'static str> {
    if let Some((_, hint)) = UNSUPPORTED_TASK_KEYWORDS.iter().find(|(k, _)| *k == key) {
        return Some(hint);
    }
    (key.starts_with("with_") && !TASK_KEYWORDS.contains(&key)).then_some("use `loop:` with a list")
}

/// The module of a task as written, before its arguments are read.
struct ModuleUse<'n> {
    name: String,
    loc: Location,
    args: Option<ArgsNode<'n>>,
}

enum ArgsNode<'n> {
    Node(&'n Node),
    /// The rest of an `action: shell echo hi` string, at a byte offset into the scalar.
    Text(&'n MarkedScalarNode, usize),
    /// `action: {module: copy, src: a, dest: b}`: the other keys.
    Mapping(&'n MarkedMappingNode),
}

impl Parser<'_> {
    pub(super) fn tasks(&mut self, node: &Node, handlers: bool) -> Vec<Task> {
        let items = self.list_items("a task list", node, "start each task with `- name: ...`");
        let mut tasks = Vec::new();
        for item in items {
            match item {
                Node::Mapping(m) if self.is_import(m) => tasks.extend(self.import(m, handlers)),
                Node::Mapping(m) => tasks.extend(self.task(m, handlers)),
                other => {
                    let loc = self.loc(other);
                    self.error(
                        format!("a task must be a mapping, found {}", yaml::kind(other)),
                        loc,
                    )
                    .hint("write `- name: ...` then the module on the next line");
                }
            }
        }
        tasks
    }

    pub(super) fn task(&mut self, map: &MarkedMappingNode, handler: bool) -> Option<Task> {
        if map.get_node("block").is_some() {
            return self.block(map, handler);
        }
        let loc = self.mapping_loc(map);
        let errors_before = self.diags.len();
        for section in ["rescue", "always"] {
            if let Some((key, _)) = map.iter().find(|(k, _)| k.as_str() == section) {
                let kloc = self.key_loc(key);
                self.error(format!("`{section}` without a `block`"), kloc)
                    .hint(format!(
                        "put the tasks that may fail under `block:`, beside `{section}:`"
                    ));
            }
        }
        let module = self.find_module(map, &loc)?;
        let mut task = empty_task(loc, task_module_name(&module.name).to_owned(), module.loc.clone());
        task.origin = self.origin.clone();
        let mut args = Map::new();
        let mut arg_locs = IndexMap::new();
        match &module.args {
            Some(ArgsNode::Node(n)) => self.module_args(&task.module, n, &mut args, &mut arg_locs),
            Some(ArgsNode::Text(s, offset)) => {
                self.text_args(&task.module, s, *offset, &mut args, &mut arg_locs)
            }
            Some(ArgsNode::Mapping(m)) => {
                for (k, v) in m.iter().filter(|(k, _)| k.as_str() != "module") {
                    args.insert(k.as_str().to_owned(), yaml::to_value(v));
                    arg_locs.insert(k.as_str().to_owned(), self.key_loc(k));
                }
            }
            None => {}
        }
        let mut task = self.finish_task(task, map, handler, args, arg_locs, errors_before)?;
        if task.module == "include_tasks" || task.module == "include_role" {
            let apply = match &module.args {
                Some(ArgsNode::Node(Node::Mapping(m))) => m.get_node("apply"),
                _ => None,
            }
            .or_else(|| match map.get_node("args") {
                Some(Node::Mapping(m)) => m.get_node("apply"),
                _ => None,
            });
            let apply = apply.map(|node| self.apply(node, handler));
            let parents = empty_task(task.loc.clone(), task.module.clone(), task.loc.clone());
            let role = if task.module == "include_role" {
                Some(self.included_role(&mut task, &module.name)?)
            } else {
                None
            };
            task.include = Some(Box::new(Include {
                vars: task.vars.clone(),
                parents,
                apply,
                role,
            }));
        }
        Some(task)
    }

    /// `apply:` of an `include_tasks`: block keywords for the tasks it loads.
    fn apply(&mut self, node: &Node, handler: bool) -> Task {
        let loc = self.loc(node);
        let mut task = empty_task(loc.clone(), "block".into(), loc);
        let Node::Mapping(m) = node else {
            let loc = self.loc(node);
            self.error(
                format!("`apply` must be a mapping, found {}", yaml::kind(node)),
                loc,
            )
            .hint("write block keywords under it, such as `tags:` or `become:`");
            return task;
        };
        let (mut args, mut arg_locs) = (Map::new(), IndexMap::new());
        for (key, value) in m.iter() {
            let k = key.as_str();
            let kloc = self.key_loc(key);
            if BLOCK_KEYWORDS.contains(&k) {
                task.keyword_locs.insert(k.to_owned(), kloc);
                self.task_keyword(&mut task, key, value, handler, &mut args, &mut arg_locs);
            } else {
                let hint = did_you_mean(k, BLOCK_KEYWORDS.iter().copied());
                self.error(format!("`{k}` is not a keyword `apply` takes"), kloc)
                    .hint_opt(hint);
            }
        }
        task
    }

    /// `block` with its `rescue` and `always`: the block's keywords pass down to its tasks.
    fn block(&mut self, map: &MarkedMappingNode, handler: bool) -> Option<Task> {
        let loc = self.mapping_loc(map);
        let errors_before = self.diags.len();
        let mut task = empty_task(loc.clone(), "block".into(), loc);
        task.origin = self.origin.clone();
        let mut block = Block::default();
        let (mut args, mut arg_locs) = (Map::new(), IndexMap::new());
        for (key, value) in map.iter() {
            let k = key.as_str();
            let kloc = self.key_loc(key);
            match k {
                "block" => block.tasks = self.tasks(value, handler),
                "rescue" => block.rescue = self.tasks(value, handler),
                "always" => block.always = self.tasks(value, handler),
                _ if BLOCK_KEYWORDS.contains(&k) => {
                    task.keyword_locs.insert(k.to_owned(), kloc);
                    self.task_keyword(&mut task, key, value, handler, &mut args, &mut arg_locs);
                }
                _ => {
                    let hint = if TASK_KEYWORDS.contains(&k) || registry().get(k).is_some() {
                        Some("put it on the tasks inside the block".to_owned())
                    } else {
                        let sections = ["block", "rescue", "always"];
                        did_you_mean(k, BLOCK_KEYWORDS.iter().copied().chain(sections)).or_else(|| {
                            did_you_mean(k, TASK_KEYWORDS.iter().copied())
                                .map(|h| format!("{h} (it goes on the tasks inside the block)"))
                        })
                    };
                    self.error(format!("`{k}` is not a block keyword"), kloc)
                        .hint_opt(hint);
                }
            }
        }
        for child in block
            .tasks
            .iter_mut()
            .chain(&mut block.rescue)
            .chain(&mut block.always)
        {
            inherit(child, &task);
        }
        task.block = Some(Box::new(block));
        (self.diags.len() == errors_before).then_some(task)
    }

    fn finish_task(
        &mut self,
        mut task: Task,
        map: &MarkedMappingNode,
        handler: bool,
        mut args: Map<String, Value>,
        mut arg_locs: IndexMap<String, Location>,
        errors_before: usize,
    ) -> Option<Task> {
        for (key, value) in map.iter() {
            let k = key.as_str();
            if !TASK_KEYWORDS.contains(&k) {
                continue;
            }
            task.keyword_locs.insert(k.to_owned(), self.key_loc(key));
            self.task_keyword(&mut task, key, value, handler, &mut args, &mut arg_locs);
        }
        if map.get_node("local_action").is_some() {
            if task.delegate_to.is_some() {
                let loc = task.keyword_locs["delegate_to"].clone();
                self.error("`delegate_to` and `local_action` both say where to run", loc)
                    .hint("`local_action` runs on localhost: use `action:` with `delegate_to`");
            }
            task.delegate_to = Some("localhost".into());
        }
        if task.loop_.is_none() && map.get_node("loop_control").is_some() {
            let loc = task.keyword_locs["loop_control"].clone();
            self.error("`loop_control` without a loop", loc)
                .hint("add `loop:` or `with_items:`, or remove `loop_control`");
        }
        task.args = Value::Object(args);
        task.arg_locs = arg_locs;
        (self.diags.len() == errors_before).then_some(task)
    }

    /// Which key is the module: the one that is not a task keyword. Reports unsupported
    /// and misspelt keywords on the way.
    fn find_module<'n>(&mut self, map: &'n MarkedMappingNode, loc: &Location) -> Option<ModuleUse<'n>> {
        let mut candidates = Vec::new();
        let mut typos = 0;
        let mut unsupported = 0;
        for (key, value) in map.iter() {
            let k = key.as_str();
            // `rescue` and `always` without a `block` are reported by `task`.
            if TASK_KEYWORDS.contains(&k) || matches!(k, "rescue" | "always") {
                continue;
            }
            if let Some((message, fix)) = removed_keyword(k) {
                unsupported += 1;
                self.error(message, self.key_loc(key)).hint(fix);
                continue;
            }
            if let Some(hint) = unsupported_hint(builtin_name(k)) {
                unsupported += 1;
                self.error(format!("`{k}` is not supported by zdd yet"), self.key_loc(key))
                    .hint(hint);
                continue;
            }
            candidates.push((key, value));
        }
        // With several candidates, one that is a known module wins; one that is close to
        // a keyword is a misspelt keyword. A lone candidate is the module unless the
        // registry does not know it and it looks like a keyword.
        let known = |k: &str| registry().get(k).is_some();
        let registry_empty = registry().names().next().is_none();
        // A lone unknown key is a misspelt keyword only when it is nearer to a keyword than
        // to any module (`nmae` -> `name`, but `shel` -> `shell`).
        let nearer_a_keyword = |k: &str| {
            let keyword = closest(k, TASK_KEYWORDS.iter().copied()).map(|(d, _)| d);
            let module = closest(k, registry().names()).map(|(d, _)| d);
            match (keyword, module) {
                (Some(kd), Some(md)) => kd < md,
                (Some(_), None) => true,
                _ => false,
            }
        };
        if candidates.len() > 1
            || (!registry_empty
                && candidates.len() == 1
                && !known(candidates[0].0)
                && nearer_a_keyword(candidates[0].0))
        {
            let mut modules = Vec::new();
            for (key, value) in candidates {
                let k = key.as_str();
                match did_you_mean(k, TASK_KEYWORDS.iter().copied()) {
                    Some(hint) if !known(k) => {
                        typos += 1;
                        self.error(format!("unknown keyword `{k}`"), self.key_loc(key))
                            .hint(hint);
                    }
                    _ => modules.push((key, value)),
                }
            }
            candidates = modules;
        }
        if candidates.len() > 1 {
            let names: Vec<String> = candidates
                .iter()
                .map(|(k, _)| format!("`{}`", k.as_str()))
                .collect();
            let known_ones: Vec<_> = candidates.iter().filter(|(k, _)| known(k)).collect();
            if known_ones.len() == 1 {
                let module = known_ones[0].0.as_str();
                for (key, _) in candidates.iter().filter(|(k, _)| k.as_str() != module) {
                    let hint = did_you_mean(key.as_str(), TASK_KEYWORDS.iter().copied())
                        .unwrap_or_else(|| format!("the module of this task is `{module}`"));
                    self.error(format!("unknown keyword `{}`", key.as_str()), self.key_loc(key))
                        .hint(hint);
                }
            } else {
                self.error(
                    format!("a task has one module, this one has {}", names.join(", ")),
                    self.key_loc(candidates[1].0),
                )
                .hint("split it into one task per module, or fix the misspelt keyword");
            }
            return None;
        }
        let action = ["action", "local_action"]
            .iter()
            .find_map(|k| map.get_node(k).map(|n| (*k, n)));
        match (candidates.pop(), action) {
            (Some((key, value)), None) => Some(ModuleUse {
                name: key.as_str().to_owned(),
                loc: self.key_loc(key),
                args: Some(ArgsNode::Node(value)),
            }),
            (Some((key, _)), Some((action, _))) => {
                self.error(
                    format!(
                        "a task has one module, this one has `{}` and `{action}`",
                        key.as_str()
                    ),
                    self.key_loc(key),
                )
                .hint(format!("remove `{action}` or `{}`", key.as_str()));
                None
            }
            (None, Some((action, node))) => self.action(action, node),
            (None, None) => {
                if typos == 0 && unsupported == 0 {
                    self.error("this task has no module", loc.clone())
                        .hint("add the module to run, such as `shell: ...`");
                }
                None
            }
        }
    }

    /// `action: shell echo hi` or `action: {module: shell, _raw_params: echo hi}`.
    fn action<'n>(&mut self, key: &str, node: &'n Node) -> Option<ModuleUse<'n>> {
        let loc = self.loc(node);
        match node {
            Node::Scalar(s) => {
                let text = s.as_str();
                let Some(first) = kv::split(text).into_iter().next() else {
                    self.error(format!("`{key}` is empty"), loc)
                        .hint(format!("write `{key}: MODULE ARGS`"));
                    return None;
                };
                let rest = first.end + (text[first.end..].len() - text[first.end..].trim_start().len());
                Some(ModuleUse {
                    name: first.text.to_owned(),
                    loc: self.offset_loc(s, first.start),
                    args: Some(ArgsNode::Text(s, rest)),
                })
            }
            Node::Mapping(m) => match m.get_scalar("module") {
                Some(name) => Some(ModuleUse {
                    name: name.as_str().to_owned(),
                    loc: self.src.span_location(name.span()),
                    args: Some(ArgsNode::Mapping(m)),
                }),
                None => {
                    self.error(format!("`{key}` has no `module`"), loc)
                        .hint(format!("write `{key}: {{module: NAME, ...}}`"));
                    None
                }
            },
            Node::Sequence(_) => {
                self.error(
                    format!("`{key}` must be a string or a mapping, found a list"),
                    loc,
                );
                None
            }
        }
    }

    /// The value under the module key.
    fn module_args(
        &mut self,
        module: &str,
        node: &Node,
        args: &mut Map<String, Value>,
        locs: &mut IndexMap<String, Location>,
    ) {
        match node {
            Node::Mapping(m) => {
                for (k, v) in m.iter() {
                    args.insert(k.as_str().to_owned(), yaml::to_value(v));
                    locs.insert(k.as_str().to_owned(), self.key_loc(k));
                }
            }
            Node::Scalar(s) if s.may_coerce() && matches!(s.as_str(), "" | "~" | "null") => {}
            Node::Scalar(s) => self.text_args(module, s, 0, args, locs),
            Node::Sequence(_) => {
                let loc = self.loc(node);
                self.error(
                    format!("the arguments of `{module}` must be a mapping or a string, found a list"),
                    loc,
                )
                .hint("write `key: value` lines under the module");
            }
        }
    }

    /// Arguments written as one string, from byte `offset` of the scalar.
    fn text_args(
        &mut self,
        module: &str,
        s: &MarkedScalarNode,
        offset: usize,
        args: &mut Map<String, Value>,
        locs: &mut IndexMap<String, Location>,
    ) {
        let text = &s.as_str()[offset..];
        if text.trim().is_empty() {
            return;
        }
        let free_form = match registry().get(module) {
            Some(m) => m.free_form(),
            None => !kv::all_key_values(text),
        };
        let parsed = if free_form {
            kv::free_form(text)
        } else {
            kv::key_values(text)
        };
        for (k, at) in parsed.offsets {
            locs.insert(k, self.offset_loc(s, offset + at));
        }
        args.extend(parsed.args);
    }

    /// The location of byte `offset` inside a scalar, when the scalar sits on one line as
    /// written (plain or quoted without escapes); else the scalar's start.
    pub(super) fn offset_loc(&self, s: &MarkedScalarNode, offset: usize) -> Location {
        let start = self.src.span_location(s.span());
        let prefix = &s.as_str()[..offset];
        if offset == 0 || prefix.contains('\n') {
            return start;
        }
        let Some(line) = self.src.line(start.line) else {
            return start;
        };
        let from: String = line.chars().skip(start.col - 1).collect();
        let width = prefix.chars().count();
        if from.starts_with(prefix) {
            return self.src.location(start.line, start.col + width);
        }
        if (from.starts_with('"') || from.starts_with('\'')) && from[1..].starts_with(prefix) {
            return self.src.location(start.line, start.col + 1 + width);
        }
        start
    }

    pub(super) fn task_keyword(
        &mut self,
        task: &mut Task,
        key: &MarkedScalarNode,
        value: &Node,
        handler: bool,
        args: &mut Map<String, Value>,
        arg_locs: &mut IndexMap<String, Location>,
    ) {
        let k = key.as_str();
        match k {
            "name" => task.name = self.string(k, value),
            "delegate_to" => task.delegate_to = self.string(k, value),
            "delegate_facts" => {
                task.delegate_facts = self.flag(k, value, &mut task.templated).unwrap_or(false)
            }
            "run_once" => task.run_once = self.flag(k, value, &mut task.templated).unwrap_or(false),
            "throttle" => task.throttle = Some(yaml::to_value(value)),
            // A template is non-empty text, which Ansible's strategy takes as true before
            // the host renders it (and fails the host where it is no boolean).
            "any_errors_fatal" => {
                task.any_errors_fatal = self
                    .flag(k, value, &mut task.templated)
                    .unwrap_or_else(|| task.templated(k).is_some())
            }
            "with_items" | "with_list" | "loop" | "with_dict" | "with_indexed_items" | "with_sequence"
            | "with_nested" | "with_cartesian" | "with_together" | "with_subelements" | "with_fileglob"
            | "with_first_found" | "with_lines" => {
                if task.loop_.is_some() {
                    self.error(format!("`{k}`: this task already has a loop"), self.key_loc(key))
                        .hint("a task has one of `loop`, `with_items`, `with_list`");
                }
                let v = yaml::to_value(value);
                task.loop_ = Some(match k {
                    "with_items" => Loop::WithItems(v),
                    "with_dict" => Loop::WithDict(v),
                    "with_indexed_items" => Loop::WithIndexedItems(v),
                    "with_sequence" => Loop::WithSequence(v),
                    "with_nested" | "with_cartesian" => Loop::WithNested(v),
                    "with_together" => Loop::WithTogether(v),
                    "with_subelements" => Loop::WithSubelements(v),
                    "with_fileglob" => Loop::WithFileglob(v),
                    "with_first_found" => {
                        // Ansible picks the folder from the action's name.
                        let action = task.module.as_str();
                        let subdir = ["template", "var", "file"]
                            .into_iter()
                            .find(|d| action.contains(d))
                            .unwrap_or("file");
                        Loop::WithFirstFound(v, format!("{subdir}s"))
                    }
                    "with_lines" => Loop::WithLines(v),
                    _ => Loop::Loop(v),
                });
            }
            "loop_control" => task.loop_control = self.loop_control(value),
            "when" => task.when = self.conditions(k, value),
            "register" => {
                task.register = self.string(k, value);
                if let Some(r) = &task.register {
                    if !kv::is_identifier(r) {
                        let loc = self.loc(value);
                        self.error(format!("`register: {r}` is not a valid variable name"), loc)
                            .hint("variable names are letters, digits and `_`, not starting with a digit");
                    }
                }
            }
            "until" => task.until = self.conditions(k, value).into_iter().next(),
            "retries" => task.retries = Some(yaml::to_value(value)),
            "delay" => task.delay = Some(yaml::to_value(value)),
            "notify" => task.notify = self.string_list(k, value),
            "listen" => {
                if !handler {
                    self.error("`listen` only applies to handlers", self.key_loc(key))
                        .hint("move this task under `handlers:`, or use `notify`");
                }
                task.listen = self.string_list(k, value);
            }
            "become" => task.privilege.enabled = self.flag(k, value, &mut task.templated),
            "become_user" => task.privilege.user = self.string(k, value),
            "become_method" => task.privilege.method = self.become_method(value),
            "ignore_errors" => task.ignore_errors = Some(yaml::to_value(value)),
            "ignore_unreachable" => {
                task.ignore_unreachable = self.flag(k, value, &mut task.templated).unwrap_or(false)
            }
            "changed_when" => task.changed_when = Some(self.conditions(k, value)),
            "failed_when" => task.failed_when = Some(self.conditions(k, value)),
            "vars" => task.vars = self.vars(value),
            "tags" => {
                task.tags = self
                    .string_list(k, value)
                    .iter()
                    .flat_map(|t| t.split(','))
                    .map(|t| t.trim().to_owned())
                    .filter(|t| !t.is_empty())
                    .collect()
            }
            "no_log" => task.no_log = self.flag(k, value, &mut task.templated).unwrap_or(false),
            "check_mode" => task.check_mode = self.flag(k, value, &mut task.templated),
            "connection" => task.connection = self.string(k, value),
            "args" => match value {
                // Arguments on the module line win over `args:`.
                Node::Mapping(m) => {
                    for (ak, av) in m.iter() {
                        let name = ak.as_str().to_owned();
                        if !args.contains_key(&name) {
                            args.insert(name.clone(), yaml::to_value(av));
                            arg_locs.insert(name, self.key_loc(ak));
                        }
                    }
                }
                other => {
                    let loc = self.loc(other);
                    self.error(
                        format!("`args` must be a mapping, found {}", yaml::kind(other)),
                        loc,
                    )
                    .hint("write `key: value` lines under `args:`");
                }
            },
            "remote_user" => task.run.remote_user = self.string(k, value),
            "port" => task.run.port = self.string(k, value),
            "environment" => task.run.environment = self.environment(value),
            "module_defaults" => task.run.module_defaults = self.module_defaults(value),
            "collections" => {
                let _ = self.string_list(k, value);
            }
            "timeout" => task.run.timeout = Some(yaml::to_value(value)),
            "async" => task.async_ = Some(yaml::to_value(value)),
            "poll" => task.poll = Some(yaml::to_value(value)),
            // Read with the module.
            "action" | "local_action" => {}
            _ => unreachable!("every task keyword is handled: {k}"),
        }
    }

    fn loop_control(&mut self, node: &Node) -> LoopControl {
        let mut lc = LoopControl::default();
        let Node::Mapping(m) = node else {
            let loc = self.loc(node);
            self.error(
                format!("`loop_control` must be a mapping, found {}", yaml::kind(node)),
                loc,
            );
            return lc;
        };
        const KEYS: &[&str] = &[
            "loop_var",
            "index_var",
            "label",
            "pause",
            "extended",
            "extended_allitems",
        ];
        for (key, value) in m.iter() {
            let k = key.as_str();
            match k {
                "loop_var" | "index_var" => {
                    let Some(name) = self.string(k, value) else {
                        continue;
                    };
                    if !kv::is_identifier(&name) {
                        let loc = self.loc(value);
                        self.error(format!("`{k}: {name}` is not a valid variable name"), loc);
                    }
                    if k == "loop_var" {
                        lc.loop_var = name;
                    } else {
                        lc.index_var = Some(name);
                    }
                }
                "label" => lc.label = self.string(k, value),
                "pause" => match yaml::to_value(value).as_f64() {
                    Some(p) if p >= 0.0 => lc.pause = Some(p),
                    _ => {
                        let loc = self.loc(value);
                        self.error("`pause` must be a number of seconds", loc);
                    }
                },
                // zdd always provides `ansible_loop`.
                "extended" | "extended_allitems" => {
                    let _ = self.boolean(k, value);
                }
                _ => {
                    let hint = did_you_mean(k, KEYS.iter().copied());
                    self.error(format!("unknown `loop_control` key `{k}`"), self.key_loc(key))
                        .hint_opt(hint);
                }
            }
        }
        lc
    }

    /// `when`, `changed_when`, `failed_when`, `until`: an expression, a boolean, or a list
    /// of them (all must hold).
    pub(super) fn conditions(&mut self, key: &str, node: &Node) -> Vec<String> {
        match node {
            Node::Sequence(items) => items.iter().flat_map(|n| self.conditions(key, n)).collect(),
            Node::Scalar(s) => condition_text(s).into_iter().collect(),
            Node::Mapping(_) => {
                let loc = self.loc(node);
                self.error(
                    format!("`{key}` must be an expression or a list of them, found a mapping"),
                    loc,
                )
                .hint("a `key: value` inside a condition needs quotes: `when: \"a: b\" in x`");
                Vec::new()
            }
        }
    }
}

/// A condition's text: booleans as Jinja writes them, and a lone `{{ expr }}` unwrapped
/// (Ansible evaluates `when: "{{ x }}"` as `x`).
fn condition_text(s: &MarkedScalarNode) -> Option<String> {
    match yaml::scalar_value(s) {
        Value::Null => None,
        Value::Bool(b) => Some(if b { "True" } else { "False" }.into()),
        Value::Number(n) => Some(n.to_string()),
        _ => {
            let text = s.as_str().trim();
            let inner = text.strip_prefix("{{").and_then(|t| t.strip_suffix("}}"));
            match inner {
                Some(i) if !i.contains("{{") && !i.contains("}}") => Some(i.trim().to_owned()),
                _ => Some(text.to_owned()),
            }
        }
    }
}

/// The keywords a `block` takes besides `block`, `rescue` and `always`.
pub const BLOCK_KEYWORDS: &[&str] = &[
    "name",
    "when",
    "vars",
    "tags",
    "become",
    "become_user",
    "become_method",
    "ignore_errors",
    "ignore_unreachable",
    "delegate_to",
    "delegate_facts",
    "run_once",
    "no_log",
    "check_mode",
    "connection",
    "notify",
    "throttle",
    "any_errors_fatal",
    "remote_user",
    "port",
    "environment",
    "module_defaults",
    "collections",
    "timeout",
];

/// A task with no keywords set yet.
pub(crate) fn empty_task(loc: Location, module: String, module_loc: Location) -> Task {
    Task {
        loc,
        name: None,
        // As written (`yum` stays `yum`); the registry resolves aliases when it is used.
        module,
        module_loc,
        args: Value::Null,
        arg_locs: IndexMap::new(),
        keyword_locs: IndexMap::new(),
        delegate_to: None,
        delegate_facts: false,
        run_once: false,
        loop_: None,
        loop_control: LoopControl::default(),
        when: Vec::new(),
        register: None,
        until: None,
        retries: None,
        delay: None,
        notify: Vec::new(),
        listen: Vec::new(),
        privilege: BecomeOpts::default(),
        ignore_errors: None,
        ignore_unreachable: false,
        changed_when: None,
        failed_when: None,
        vars: VarMap::new(),
        tags: Vec::new(),
        no_log: false,
        check_mode: None,
        connection: None,
        throttle: None,
        any_errors_fatal: false,
        run: RunKeywords::default(),
        async_: None,
        poll: None,
        block: None,
        include: None,
        include_params: None,
        origin: Default::default(),
        templated: Vec::new(),
    }
}

/// The templated keywords a task takes from its play (the play's `become`,
/// `any_errors_fatal`...) when it does not set them itself.
pub const INHERITED_FROM_PLAY: &[&str] = &[
    "become",
    "any_errors_fatal",
    "no_log",
    "check_mode",
    "run_once",
    "ignore_unreachable",
    "delegate_facts",
];

/// Give a task (and the tasks of a block) the templated keywords of its parent that it
/// does not set itself: a keyword written on the task, templated or not, wins.
pub(crate) fn inherit_templated(task: &mut Task, from_parent: &[TemplatedKeyword]) {
    for t in from_parent {
        if !task.keyword_locs.contains_key(&t.key) && task.templated(&t.key).is_none() {
            task.templated.push(t.clone());
        }
    }
    if let Some(b) = &mut task.block {
        for c in b.tasks.iter_mut().chain(&mut b.rescue).chain(&mut b.always) {
            inherit_templated(c, from_parent);
        }
    }
}

/// A task inside a block takes the block's keywords, as Ansible's parent chain does: the
/// block's conditions come first, its vars and tags add to the task's, and the rest fill
/// what the task leaves unset.
pub(crate) fn inherit(child: &mut Task, parent: &Task) {
    let mut when = parent.when.clone();
    when.append(&mut child.when);
    child.when = when;
    let mut vars = parent.vars.clone();
    vars.extend(std::mem::take(&mut child.vars));
    child.vars = vars;
    for tag in &parent.tags {
        if !child.tags.contains(tag) {
            child.tags.push(tag.clone());
        }
    }
    child.privilege = child.privilege.inherit(&parent.privilege);
    child.run = child.run.inherit(&parent.run);
    if child.ignore_errors.is_none() {
        child.ignore_errors = parent.ignore_errors.clone();
    }
    // A flag the task (or a nearer parent) wrote wins; else the parent's, if it wrote one.
    for name in INHERITED_FLAGS {
        // A templated flag passes down with the templated keywords below.
        if child.keyword_locs.contains_key(*name) || parent.templated(name).is_some() {
            continue;
        }
        if let Some(loc) = parent.keyword_locs.get(*name) {
            child.keyword_locs.insert((*name).to_owned(), loc.clone());
            *flag(child, name) = flag_value(parent, name);
        }
    }
    if child.delegate_to.is_none() {
        child.delegate_to = parent.delegate_to.clone();
        child.delegate_facts |= parent.delegate_facts;
    }
    child.any_errors_fatal |= parent.any_errors_fatal;
    if child.throttle.is_none() {
        child.throttle = parent.throttle.clone();
    }
    if child.check_mode.is_none() {
        child.check_mode = parent.check_mode;
    }
    if child.connection.is_none() {
        child.connection = parent.connection.clone();
    }
    if child.notify.is_empty() {
        child.notify = parent.notify.clone();
    }
    for t in &parent.templated {
        if !child.keyword_locs.contains_key(&t.key) && child.templated(&t.key).is_none() {
            child.templated.push(t.clone());
        }
    }
    if let Some(block) = &mut child.block {
        for grandchild in block
            .tasks
            .iter_mut()
            .chain(&mut block.rescue)
            .chain(&mut block.always)
        {
            inherit(grandchild, parent);
        }
    }
    if let Some(include) = &mut child.include {
        inherit(&mut include.parents, parent);
    }
}

/// The boolean keywords a task takes from its block or play unless it writes its own.
const INHERITED_FLAGS: &[&str] = &["run_once", "no_log", "ignore_unreachable"];

fn flag_value(task: &Task, name: &str) -> bool {
    match name {
        "run_once" => task.run_once,
        "no_log" => task.no_log,
        _ => task.ignore_unreachable,
    }
}

pub(super) fn flag<'t>(task: &'t mut Task, name: &str) -> &'t mut bool {
    match name {
        "run_once" => &mut task.run_once,
        "no_log" => &mut task.no_log,
        "ignore_unreachable" => &mut task.ignore_unreachable,
        _ => unreachable!("not an inherited flag: {name}"),
    }
}

/// Add tags to a task and, for a block, to every task inside it.
pub(crate) fn inherit_tags(task: &mut Task, tags: &[String]) {
    for tag in tags {
        if !task.tags.contains(tag) {
            task.tags.push(tag.clone());
        }
    }
    if let Some(b) = &mut task.block {
        for c in b.tasks.iter_mut().chain(&mut b.rescue).chain(&mut b.always) {
            inherit_tags(c, tags);
        }
    }
    if let Some(include) = &mut task.include {
        inherit_tags(&mut include.parents, tags);
    }
}
