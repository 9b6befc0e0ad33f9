//! `set_fact`: set variables on the host, on the controller.

use super::{ArgError, Failure, ModuleCtx, ModuleResult, StaticCtx, TypedModule};
use async_trait::async_trait;
use serde_json::{json, Map, Value};

pub struct SetFact;

/// Keys that configure `set_fact` itself rather than name a fact.
const OPTIONS: &[&str] = &["cacheable"];

fn is_identifier(name: &str) -> bool {
    let mut chars = name.chars();
    matches!(chars.next(), Some(c) if c.is_ascii_alphabetic() || c == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_')
}

#[async_trait]
impl TypedModule for SetFact {
    /// Any keys: each names a variable.
    type Args = Map<String, Value>;

    fn name(&self) -> &'static str {
        "set_fact"
    }

    fn controller_only(&self) -> bool {
        true
    }

    fn parse(&self, raw: &Value) -> Result<Self::Args, ArgError> {
        raw.as_object()
            .cloned()
            .ok_or_else(|| ArgError::new("`set_fact` takes a mapping of variable names to values"))
    }

    fn check_static(&self, obj: &Self::Args, _raw: &Value, _ctx: &StaticCtx<'_>) -> Result<(), ArgError> {
        if let Some(raw) = obj.get("_raw_params") {
            return Err(
                ArgError::new(format!("`set_fact` needs `name: value` pairs, not `{raw}`"))
                    .key("_raw_params"),
            );
        }
        if let Some(bad) = obj
            .keys()
            .find(|k| !OPTIONS.contains(&k.as_str()) && !is_identifier(k))
        {
            return Err(ArgError::new(format!("`{bad}` is not a valid variable name"))
                .key(bad.clone())
                .hint("variable names are letters, digits and `_`, not starting with a digit"));
        }
        if obj.keys().all(|k| OPTIONS.contains(&k.as_str())) {
            return Err(ArgError::new("`set_fact` needs at least one variable to set"));
        }
        Ok(())
    }

    fn defines_vars(&self, obj: &Self::Args) -> Vec<String> {
        obj.keys()
            .filter(|k| !OPTIONS.contains(&k.as_str()) && k.as_str() != "_raw_params")
            .cloned()
            .collect()
    }

    async fn run(&self, _ctx: &ModuleCtx<'_>, obj: Self::Args) -> Result<ModuleResult, Failure> {
        let mut r = ModuleResult::ok();
        for (k, v) in obj.into_iter().filter(|(k, _)| !OPTIONS.contains(&k.as_str())) {
            r.facts.insert(k, v);
        }
        r.extra.insert("ansible_facts".into(), json!(r.facts));
        Ok(r)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::modules::{Module, StaticCtx};
    use std::path::Path;

    #[test]
    fn names_must_be_identifiers() {
        let ctx = StaticCtx {
            playbook_dir: Path::new("."),
            role_path: None,
        };
        assert!(SetFact
            .check_args(&json!({"web_port": 80, "cacheable": true}), &ctx)
            .is_ok());
        let err = SetFact.check_args(&json!({"web-port": 80}), &ctx).unwrap_err();
        assert_eq!(err.key.as_deref(), Some("web-port"));
        assert!(SetFact.check_args(&json!({"cacheable": true}), &ctx).is_err());
    }
}
