//! `fail`: fail the host with a message, on the controller.

use super::{Failure, ModuleCtx, ModuleResult, TypedModule};
use async_trait::async_trait;
use serde::Deserialize;
use serde_json::Value;

pub struct Fail;

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Args {
    #[serde(default)]
    msg: Option<Value>,
}

#[async_trait]
impl TypedModule for Fail {
    type Args = Args;

    fn name(&self) -> &'static str {
        "fail"
    }

    fn controller_only(&self) -> bool {
        true
    }

    async fn run(&self, _ctx: &ModuleCtx<'_>, a: Args) -> Result<ModuleResult, Failure> {
        let msg = match a.msg {
            Some(Value::String(s)) => s,
            Some(other) => other.to_string(),
            None => "Failed as requested from task".into(),
        };
        Ok(ModuleResult::failed(msg))
    }
}
