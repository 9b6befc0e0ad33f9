//! Play and task keywords whose values have a shape of their own: `environment`,
//! `module_defaults`, `vars_prompt`.

use super::Parser;
use crate::error::did_you_mean;
use crate::playbook::VarPrompt;
use crate::template::Templater;
use crate::yaml;
use marked_yaml::Node;
use serde_json::Value;

/// The keys a `vars_prompt` entry takes (Ansible's list; `encrypt`, `salt` and
/// `salt_size` are refused with a reason).
const PROMPT_KEYS: &[&str] = &[
    "name",
    "prompt",
    "default",
    "private",
    "confirm",
    "encrypt",
    "salt_size",
    "salt",
    "unsafe",
];

impl Parser<'_> {
    /// `environment`: a mapping, a template that renders to one, or a list of them; one
    /// layer each, in order.
    pub(super) fn environment(&mut self, node: &Node) -> Vec<Value> {
        match node {
            Node::Sequence(items) => items.iter().flat_map(|n| self.environment(n)).collect(),
            Node::Mapping(m) => {
                for (k, _) in m.iter() {
                    if !super::kv::is_identifier(k.as_str()) {
                        let loc = self.key_loc(k);
                        self.error(
                            format!("`{}` is not a valid environment variable name", k.as_str()),
                            loc,
                        )
                        .hint("names are letters, digits and `_`, not starting with a digit");
                    }
                }
                vec![yaml::to_value(node)]
            }
            Node::Scalar(s) if s.may_coerce() && matches!(s.as_str(), "" | "~" | "null") => Vec::new(),
            Node::Scalar(s) if Templater::is_template(s.as_str()) => vec![yaml::to_value(node)],
            other => {
                let loc = self.loc(other);
                self.error(
                    format!("`environment` must be a mapping, found {}", yaml::kind(other)),
                    loc,
                )
                .hint("write `NAME: value` lines, or a variable holding them: `environment: \"{{ proxy_env }}\"`");
                Vec::new()
            }
        }
    }

    /// `module_defaults`: a mapping from module (or `group/NAME`) to arguments, or a list
    /// of such mappings; one layer each, in order.
    pub(super) fn module_defaults(&mut self, node: &Node) -> Vec<Value> {
        match node {
            Node::Sequence(items) => items.iter().flat_map(|n| self.module_defaults(n)).collect(),
            Node::Mapping(m) => {
                for (k, v) in m.iter() {
                    if let Some(group) = k.as_str().strip_prefix("group/") {
                        if !group.contains('.') && !ACTION_GROUPS.contains(&group) {
                            let loc = self.key_loc(k);
                            let hint =
                                did_you_mean(group, ACTION_GROUPS.iter().copied()).unwrap_or_else(|| {
                                    format!("ansible-core's groups are {}", ACTION_GROUPS.join(", "))
                                });
                            self.error(
                                format!("Error loading module_defaults: could not resolve the module_defaults group {group}"),
                                loc,
                            )
                            .hint(hint);
                        }
                    }
                    let is_args = matches!(v, Node::Mapping(_))
                        || matches!(v, Node::Scalar(s) if Templater::is_template(s.as_str()));
                    if !is_args {
                        let loc = self.loc(v);
                        self.error(
                            format!("the defaults of `{}` must be a mapping of arguments", k.as_str()),
                            loc,
                        )
                        .hint("write `MODULE: {ARG: value}`");
                    }
                }
                vec![yaml::to_value(node)]
            }
            Node::Scalar(s) if s.may_coerce() && matches!(s.as_str(), "" | "~" | "null") => Vec::new(),
            other => {
                let loc = self.loc(other);
                self.error(
                    "The field 'module_defaults' is supposed to be a dictionary or list of dictionaries, the keys of which must be static action, module, or group names",
                    loc,
                )
                .hint("only the values may be templates: `module_defaults: {shell: \"{{ shell_defaults }}\"}`");
                Vec::new()
            }
        }
    }

    /// `vars_prompt`: a list of `{name, prompt, default, private, confirm, unsafe}`.
    pub(super) fn vars_prompt(&mut self, node: &Node) -> Vec<VarPrompt> {
        let items = self.list_items(
            "`vars_prompt`",
            node,
            "write `- name: VAR` then `prompt: QUESTION`",
        );
        let mut prompts = Vec::new();
        for item in items {
            let Node::Mapping(m) = item else {
                let loc = self.loc(item);
                self.error(
                    format!(
                        "a `vars_prompt` entry must be a mapping, found {}",
                        yaml::kind(item)
                    ),
                    loc,
                )
                .hint("write `- name: VAR` then `prompt: QUESTION`");
                continue;
            };
            let loc = self.mapping_loc(m);
            let mut prompt = VarPrompt {
                loc: loc.clone(),
                name: String::new(),
                prompt: None,
                private: true,
                default: None,
                confirm: false,
                unsafe_: false,
            };
            for (key, value) in m.iter() {
                let k = key.as_str();
                match k {
                    "name" => prompt.name = self.string(k, value).unwrap_or_default(),
                    "prompt" => prompt.prompt = self.string(k, value),
                    "default" => prompt.default = Some(yaml::to_value(value)),
                    "private" => prompt.private = self.boolean(k, value).unwrap_or(true),
                    "confirm" => prompt.confirm = self.boolean(k, value).unwrap_or(false),
                    "unsafe" => prompt.unsafe_ = self.boolean(k, value).unwrap_or(false),
                    "encrypt" | "salt" | "salt_size" => {
                        let kloc = self.key_loc(key);
                        self.error(format!("`vars_prompt` `{k}` is not supported by zdd"), kloc)
                            .hint("hash the value before the run (`mkpasswd`) and pass it with `-e`");
                    }
                    _ => {
                        let kloc = self.key_loc(key);
                        let hint = did_you_mean(k, PROMPT_KEYS.iter().copied());
                        self.error(format!("unknown `vars_prompt` key `{k}`"), kloc)
                            .hint_opt(hint);
                    }
                }
            }
            if prompt.name.is_empty() {
                self.error("this `vars_prompt` entry has no `name`", loc)
                    .hint("add `name: VAR`: the variable the answer goes to");
            } else if !super::kv::is_identifier(&prompt.name) {
                self.error(format!("`{}` is not a valid variable name", prompt.name), loc);
            } else {
                prompts.push(prompt);
            }
        }
        prompts
    }
}

/// The groups of ansible-core's action group metadata (`group/NAME` in `module_defaults`).
/// None of them holds a module zdd runs (they are cloud modules of collections), so their
/// defaults apply to nothing here, as in Ansible for a module outside the group.
pub const ACTION_GROUPS: &[&str] = &[
    "acme", "aws", "azure", "cpm", "docker", "gcp", "k8s", "os", "ovirt", "vmware",
];

/// The defaults `module_defaults` layers (outermost first) give `module`: the last layer
/// that names it (by short name or FQCN) wins whole, as Ansible merges the layers.
pub fn module_defaults_for<'a>(layers: &'a [Value], module: &str) -> Option<&'a Value> {
    let module = crate::modules::canonical_name(module);
    let mut found = None;
    for layer in layers {
        let entries: Vec<&Value> = match layer {
            Value::Array(items) => items.iter().collect(),
            other => vec![other],
        };
        for entry in entries {
            let Value::Object(map) = entry else { continue };
            for (key, defaults) in map {
                if !key.starts_with("group/") && crate::modules::canonical_name(key) == module {
                    found = Some(defaults);
                }
            }
        }
    }
    found
}

/// Arguments `defaults` gives that the task does not set itself.
pub fn fill_defaults(args: &mut Value, defaults: &Value) {
    let (Value::Object(args), Value::Object(defaults)) = (args, defaults) else {
        return;
    };
    for (key, value) in defaults {
        if !args.contains_key(key) {
            args.insert(key.clone(), value.clone());
        }
    }
}

/// Fill the task's (and for a block, its tasks') arguments from `module_defaults`, once
/// every parent's layers are inherited; defaults written as a template are left to the
/// run, which renders them.
pub(crate) fn apply_module_defaults(task: &mut crate::playbook::Task) {
    if let Some(block) = &mut task.block {
        for child in block
            .tasks
            .iter_mut()
            .chain(&mut block.rescue)
            .chain(&mut block.always)
        {
            apply_module_defaults(child);
        }
        return;
    }
    if let Some(defaults) = module_defaults_for(&task.run.module_defaults, &task.module) {
        let defaults = defaults.clone();
        if task.args.is_null() {
            task.args = Value::Object(Default::default());
        }
        fill_defaults(&mut task.args, &defaults);
    }
}
