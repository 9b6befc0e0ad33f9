//! `group_by`: put the host into the group its rendered `key` names (created when new),
//! under the `parents` groups. Like `add_host`, the module describes the change under
//! `add_group` and `parent_groups`, as Ansible's result does; the runner applies it.

use super::add_host::group_list;
use super::{ArgError, Failure, InventoryChange, ModuleCtx, ModuleResult, StaticCtx, TypedModule};
use async_trait::async_trait;
use serde_json::{json, Map, Value};

pub struct GroupBy;

#[async_trait]
impl TypedModule for GroupBy {
    /// `key` and `parents`, checked by hand for a message that names both.
    type Args = Map<String, Value>;

    fn name(&self) -> &'static str {
        "group_by"
    }

    fn controller_only(&self) -> bool {
        true
    }

    fn parse(&self, raw: &Value) -> Result<Self::Args, ArgError> {
        raw.as_object()
            .cloned()
            .ok_or_else(|| ArgError::new("`group_by` takes `key` and `parents`"))
    }

    fn check_static(&self, obj: &Self::Args, _raw: &Value, _ctx: &StaticCtx<'_>) -> Result<(), ArgError> {
        if let Some(bad) = obj.keys().find(|k| !["key", "parents"].contains(&k.as_str())) {
            let hint = crate::error::did_you_mean(bad, ["key", "parents"])
                .unwrap_or_else(|| "`group_by` takes `key` and `parents`".into());
            return Err(ArgError::new(format!("`group_by` has no argument `{bad}`"))
                .key(bad.clone())
                .hint(hint));
        }
        if !obj.contains_key("key") {
            return Err(ArgError::new(
                "`group_by` needs a `key`: the group to put the host in",
            ));
        }
        Ok(())
    }

    async fn run(&self, _ctx: &ModuleCtx<'_>, obj: Self::Args) -> Result<ModuleResult, Failure> {
        let key = match obj.get("key") {
            Some(Value::String(s)) => s.clone(),
            Some(Value::Null) | None => return Err("`group_by` needs a `key`".into()),
            Some(other) => other.to_string(),
        };
        let parents = obj
            .get("parents")
            .map(group_list)
            .unwrap_or_else(|| vec!["all".into()]);
        let group = key.replace(' ', "-");
        let parents: Vec<String> = parents.iter().map(|p| p.replace(' ', "-")).collect();
        let mut r = ModuleResult::ok();
        r.extra.insert("add_group".into(), json!(group));
        r.extra.insert("parent_groups".into(), json!(parents));
        r.inventory = Some(InventoryChange::GroupBy { group, parents });
        Ok(r)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::modules::{Module, StaticCtx};
    use std::path::Path;

    fn check(args: Value) -> Result<(), ArgError> {
        GroupBy.check_args(
            &args,
            &StaticCtx {
                playbook_dir: Path::new("."),
                role_path: None,
            },
        )
    }

    #[test]
    fn needs_a_key_and_knows_its_arguments() {
        assert!(check(json!({"key": "tier_{{ tier }}", "parents": "rollout"})).is_ok());
        assert!(check(json!({"parents": "rollout"})).is_err());
        let e = check(json!({"key": "x", "parent": "y"})).unwrap_err();
        assert_eq!(e.key.as_deref(), Some("parent"));
        assert!(e.hint.unwrap().contains("parents"), "did you mean");
    }
}
