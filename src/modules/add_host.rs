//! `add_host`: add a host (or groups and variables to one) to the in-memory inventory,
//! for the plays that follow. The module only describes the change, under `add_host`
//! (as Ansible's result does); the runner applies it and says whether it changed anything.
//! Like Ansible, it runs once per batch, for the batch's first host.

use super::{ArgError, Failure, HostLoop, InventoryChange, ModuleCtx, ModuleResult, StaticCtx, TypedModule};
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
impl TypedModule for AddHost {
    /// `name`, `groups` and any variables for the host.
    type Args = Map<String, Value>;

    fn name(&self) -> &'static str {
        "add_host"
    }

    fn controller_only(&self) -> bool {
        true
    }

    /// Like Ansible's, it bypasses the host loop: only the batch's first host runs it,
    /// counts it and registers its result.
    fn host_loop(&self) -> HostLoop {
        HostLoop::FirstHostOnly
    }

    fn parse(&self, raw: &Value) -> Result<Self::Args, ArgError> {
        raw.as_object()
            .cloned()
            .ok_or_else(|| ArgError::new("`add_host` takes `name`, `groups` and variables"))
    }

    fn check_static(&self, obj: &Self::Args, _raw: &Value, _ctx: &StaticCtx<'_>) -> Result<(), ArgError> {
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

    async fn run(&self, _ctx: &ModuleCtx<'_>, obj: Self::Args) -> Result<ModuleResult, Failure> {
        let name = match pick(&obj, NAME_KEYS) {
            Some(Value::String(s)) if !s.trim().is_empty() => s.trim().to_owned(),
            Some(Value::Number(n)) => n.to_string(),
            _ => return Err("`add_host` needs a non-empty `name`".into()),
        };
        let groups = pick(&obj, GROUP_KEYS).map(group_list).unwrap_or_default();
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
        r.inventory = Some(InventoryChange::AddHost {
            name,
            groups,
            vars: vars.into_iter().collect(),
        });
        Ok(r)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::modules::{Module, StaticCtx};
    use std::path::Path;

    #[test]
    fn needs_a_name_and_splits_groups() {
        let ctx = StaticCtx {
            playbook_dir: Path::new("."),
            role_path: None,
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
