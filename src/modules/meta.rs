//! `meta`: instructions to the runner itself (`flush_handlers`, `end_host`, `end_batch`,
//! `end_play`, `noop`). The runner carries them out; this module only checks them.

use super::{ArgError, Failure, ModuleCtx, ModuleResult, StaticCtx, TypedModule};
use crate::error::did_you_mean;
use async_trait::async_trait;
use serde_json::Value;

/// The meta actions zdd carries out.
pub const META_ACTIONS: &[&str] = &["flush_handlers", "end_host", "end_batch", "end_play", "noop"];

pub struct Meta;

/// The action a `meta` task names, if its arguments are one plain word.
pub fn action(args: &Value) -> Option<&str> {
    match args {
        Value::String(s) => Some(s.trim()),
        Value::Object(map) if map.len() == 1 => map.get("_raw_params")?.as_str().map(str::trim),
        _ => None,
    }
}

#[async_trait]
impl TypedModule for Meta {
    /// One word, or `_raw_params` holding it.
    type Args = Value;

    fn name(&self) -> &'static str {
        "meta"
    }

    fn free_form(&self) -> bool {
        true
    }

    fn controller_only(&self) -> bool {
        true
    }

    fn directs_the_runner(&self) -> bool {
        true
    }

    fn parse(&self, raw: &Value) -> Result<Self::Args, ArgError> {
        Ok(raw.clone())
    }

    fn check_static(&self, raw: &Value, _: &Value, _ctx: &StaticCtx<'_>) -> Result<(), ArgError> {
        match action(raw) {
            Some(a) if META_ACTIONS.contains(&a) => Ok(()),
            Some(a) if a.contains("{{") => Err(ArgError::new("`meta` cannot be templated")),
            Some(a) => {
                let mut e = ArgError::new(format!("unknown meta action `{a}`"));
                e.hint = did_you_mean(a, META_ACTIONS.iter().copied())
                    .or_else(|| Some(format!("zdd knows {}", META_ACTIONS.join(", "))));
                Err(e)
            }
            None => Err(ArgError::new("`meta` takes one action: `meta: flush_handlers`")),
        }
    }

    async fn run(&self, _ctx: &ModuleCtx<'_>, _raw: Value) -> Result<ModuleResult, Failure> {
        // The runner carries meta tasks out itself (`directs_the_runner`).
        Ok(ModuleResult::ok())
    }
}
