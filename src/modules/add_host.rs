//! `add_host`: add a host (or groups and variables to one) to the in-memory inventory,
//! for the plays that follow. The module only describes the change, under `add_host`
//! (as Ansible's result does); the runner applies it and says whether it changed anything.
//! Like Ansible, it runs once per batch, for the batch's first host.

use super::{ArgError, Module, ModuleCtx, ModuleResult, StaticCtx};
use crate::host::HostError;
use async_trait::async_trait;
use serde_json::{json, Map, Value};

pub struct AddHost;

const NAME_KEYS: &[&str] = &["name", "host", "hostname"];
const GROUP_KEYS: &[&str] = &["groups", "group", "groupname"];

/// `groups: a,b` or a list, as group names.
pub fn group_list(value: &Value) -> Vec<String> {
    match value {
        Value::Array(items) => items.iter().flat_map(group_list).collect(),
        Value::String(s) => s
            .split(',')
            .map(str::trim)
            .filter(|g| !g.is_empty())
            .map(str::to_owned)
            .collect(),
        Value::Null => Vec::new(),
        other => vec![other.to_string()],
    }
}

fn pick<'a>(obj: &'a Map<String, Value>, keys: &[&str]) -> Option<&'a Value> {
    keys.iter().find_map(|k| obj.get(*k))
}

#[async_trait]
impl Module for AddHost {
    fn name(&self) -> &'static str {
        "add_host"
    }

    fn controller_only(&self) -> bool {
        true
    }

    fn check_args(&self, raw: &Value, _ctx: &StaticCtx<'_>) -> Result<(), ArgError> {
        let Some(obj) = raw.as_object() else {
            return Err(ArgError::new("`add_host` takes `name`, `groups` and variables"));
        };
        if let Some(raw) = obj.get("_raw_params") {
            return Err(
                ArgError::new(format!("`add_host` needs `key=value` pairs, not `{raw}`")).key("_raw_params"),
            );
        }
        if pick(obj, NAME_KEYS).is_none() {
            return Err(ArgError::new("`add_host` needs the `name` of the host to add")
                .hint("add `name: HOST` (or `name={{ item }}` in a loop)"));
        }
        Ok(())
    }

    async fn run(&self, _ctx: &ModuleCtx<'_>, raw: &Value) -> Result<ModuleResult, HostError> {
        let Some(obj) = raw.as_object() else {
            return Ok(ModuleResult::failed(
                "`add_host` takes `name`, `groups` and variables",
            ));
        };
        let name = match pick(obj, NAME_KEYS) {
            Some(Value::String(s)) if !s.trim().is_empty() => s.trim().to_owned(),
            Some(Value::Number(n)) => n.to_string(),
            _ => return Ok(ModuleResult::failed("`add_host` needs a non-empty `name`")),
        };
        let groups = pick(obj, GROUP_KEYS).map(group_list).unwrap_or_default();
        let vars: Map<String, Value> = obj
            .iter()
            .filter(|(k, _)| !NAME_KEYS.contains(&k.as_str()) && !GROUP_KEYS.contains(&k.as_str()))
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect();
        let mut r = ModuleResult::ok();
        r.extra.insert(
            "add_host".into(),
            json!({"host_name": name, "groups": groups, "host_vars": vars}),
        );
        Ok(r)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::Path;

    #[test]
    fn needs_a_name_and_splits_groups() {
        let ctx = StaticCtx {
            playbook_dir: Path::new("."),
        };
        assert!(AddHost
            .check_args(&json!({"name": "web9", "groups": "a,b"}), &ctx)
            .is_ok());
        assert!(AddHost.check_args(&json!({"hostname": "web9"}), &ctx).is_ok());
        assert!(AddHost.check_args(&json!({"groups": "a"}), &ctx).is_err());
        assert_eq!(group_list(&json!("a, b,")), ["a", "b"]);
        assert_eq!(group_list(&json!(["a", "b,c"])), ["a", "b", "c"]);
    }
}
