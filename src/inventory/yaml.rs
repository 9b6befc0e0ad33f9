//! YAML inventories: `all: {hosts: {h: {vars}}, vars: {}, children: {g: {...}}}`.
//!
//! Values are typed by `parse::load_vars_file` (YAML 1.1, as Ansible reads it); the
//! structure is checked here, and errors are located with marked-yaml.

use super::hostdef::{expand_hostname_range, split_host_port};
use super::Inventory;
use crate::error::{did_you_mean, Diagnostic, Error, Location};
use serde_json::Value;
use std::path::{Path, PathBuf};
use std::sync::Arc;

struct YamlInventory<'a> {
    file: Arc<PathBuf>,
    text: &'a str,
    inv: Inventory,
    errors: Vec<Diagnostic>,
}

pub(super) fn parse(path: &Path, text: &str) -> Result<Inventory, Error> {
    let doc = crate::parse::load_vars_file(path)?;
    let mut p = YamlInventory {
        file: Arc::new(path.to_owned()),
        text,
        inv: Inventory::default(),
        errors: Vec::new(),
    };
    for (name, data) in &doc {
        p.group(&[name.as_str()], data);
    }
    if p.errors.is_empty() {
        Ok(p.inv)
    } else {
        Err(Error::Invalid(p.errors))
    }
}

impl YamlInventory<'_> {
    /// A diagnostic at the key reached by `keys` from the top of the document.
    fn error(&mut self, keys: &[&str], message: String, hint: impl Into<String>) {
        let mut d = Diagnostic::new(message).hint(hint);
        if let Some((line, col)) = locate(self.text, keys) {
            d = d
                .at(Location::new(self.file.clone(), line, col))
                .snippet(self.text.lines().nth(line - 1).unwrap_or_default());
        } else {
            d = d.at(Location::new(self.file.clone(), 1, 1));
        }
        self.errors.push(d);
    }

    /// The group at the end of `path` (`["all", "children", "web"]`).
    fn group(&mut self, path: &[&str], data: &Value) {
        let name = *path.last().unwrap();
        self.inv.ensure_group(name, None);
        let map = match data {
            Value::Null => return,
            Value::Object(m) => m,
            other => {
                self.error(
                    path,
                    format!("group `{name}` must be a mapping, found {}", kind(other)),
                    "a group is a mapping of `hosts`, `vars` and `children`",
                );
                return;
            }
        };
        for (key, value) in map {
            let here: Vec<&str> = path.iter().copied().chain([key.as_str()]).collect();
            // As in Ansible: `hosts: web1` and `children: web` name a single host or group.
            let single;
            let value = match (key.as_str(), value) {
                ("hosts" | "children", Value::String(one)) => {
                    single = Value::Object(serde_json::Map::from_iter([(one.clone(), Value::Null)]));
                    &single
                }
                _ => value,
            };
            match key.as_str() {
                "vars" => match value {
                    Value::Null => {}
                    Value::Object(vars) => {
                        let g = self.inv.ensure_group(name, None);
                        g.vars.extend(vars.iter().map(|(k, v)| (k.clone(), v.clone())));
                    }
                    other => self.error(
                        &here,
                        format!(
                            "`vars` of group `{name}` must be a mapping, found {}",
                            kind(other)
                        ),
                        "write `vars:` as `name: value` lines",
                    ),
                },
                "hosts" => match value {
                    Value::Null => {}
                    Value::Object(hosts) => {
                        for (pattern, vars) in hosts {
                            self.host(&here, name, pattern, vars);
                        }
                    }
                    other => self.error(
                        &here,
                        format!(
                            "`hosts` of group `{name}` must be a mapping, found {}",
                            kind(other)
                        ),
                        "write each host as a key: `hosts: {web1: , web2: }`",
                    ),
                },
                "children" => match value {
                    Value::Null => {}
                    Value::Object(children) => {
                        for (child, cdata) in children {
                            let child_path: Vec<&str> =
                                here.iter().copied().chain([child.as_str()]).collect();
                            self.group(&child_path, cdata);
                            if let Err(why) = self.inv.add_child(name, child) {
                                self.error(
                                    &child_path,
                                    why,
                                    "a group cannot contain itself, directly or through its children",
                                );
                            }
                        }
                    }
                    other => self.error(
                        &here,
                        format!(
                            "`children` of group `{name}` must be a mapping, found {}",
                            kind(other)
                        ),
                        "write each child group as a key: `children: {web: }`",
                    ),
                },
                other => {
                    let hint = did_you_mean(other, ["hosts", "vars", "children"])
                        .unwrap_or_else(|| "a group has only `hosts`, `vars` and `children`".into());
                    self.error(&here, format!("unknown key `{other}` in group `{name}`"), hint);
                }
            }
        }
    }

    fn host(&mut self, path: &[&str], group: &str, pattern: &str, vars: &Value) {
        let here: Vec<&str> = path.iter().copied().chain([pattern]).collect();
        let vars = match vars {
            Value::Null => None,
            Value::Object(m) => Some(m),
            other => {
                self.error(
                    &here,
                    format!(
                        "variables of host `{pattern}` must be a mapping, found {}",
                        kind(other)
                    ),
                    "write host variables as `name: value` lines under the host",
                );
                return;
            }
        };
        let expanded = split_host_port(pattern)
            .map_err(|m| {
                (
                    m,
                    "write the port as `host:2222` or `ansible_port: 2222`".to_owned(),
                )
            })
            .and_then(|(p, port)| {
                expand_hostname_range(&p)
                    .map(|h| (h, port))
                    .map_err(|e| (e.message, e.hint))
            });
        let (hosts, port) = match expanded {
            Ok(x) => x,
            Err((message, hint)) => {
                self.error(&here, message, hint);
                return;
            }
        };
        let loc = locate(self.text, &here).map(|(l, c)| Location::new(self.file.clone(), l, c));
        for h in hosts {
            self.inv.add_host_to_group(&h, group, loc.clone());
            let host = self.inv.ensure_host(&h, None);
            if let Some(vars) = vars {
                host.vars.extend(vars.iter().map(|(k, v)| (k.clone(), v.clone())));
            }
            if let Some(port) = port {
                host.vars.insert("ansible_port".into(), port.into());
            }
        }
    }
}

fn kind(v: &Value) -> &'static str {
    match v {
        Value::Null => "nothing",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "a list",
        Value::Object(_) => "a mapping",
    }
}

/// Line and column (1-based) of the last key of `keys`, following mappings from the top.
fn locate(text: &str, keys: &[&str]) -> Option<(usize, usize)> {
    let root = crate::yaml::Source::new("", text)
        .parse(crate::yaml::TopLevel::Mapping)
        .ok()?;
    let mut node = &root;
    let mut at = None;
    for key in keys {
        let map = node.as_mapping()?;
        let (k, v) = map.iter().find(|(k, _)| k.as_str() == *key)?;
        let start = k.span().start()?;
        at = Some((start.line(), start.column()));
        node = v;
    }
    at
}
