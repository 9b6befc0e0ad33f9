//! `fail`: fail the host with a message, on the controller.

use super::args;
use super::{ArgError, Module, ModuleCtx, ModuleResult, StaticCtx};
use crate::host::HostError;
use async_trait::async_trait;
use serde::Deserialize;
use serde_json::Value;

pub struct Fail;

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Args {
    #[serde(default)]
    msg: Option<Value>,
}

#[async_trait]
impl Module for Fail {
    fn name(&self) -> &'static str {
        "fail"
    }

    fn controller_only(&self) -> bool {
        true
    }

    fn check_args(&self, raw: &Value, _ctx: &StaticCtx<'_>) -> Result<(), ArgError> {
        args::parse::<Args>(self.name(), raw).map(|_| ())
    }

    async fn run(&self, _ctx: &ModuleCtx<'_>, raw: &Value) -> Result<ModuleResult, HostError> {
        let msg = match args::parse::<Args>(self.name(), raw) {
            Ok(Args {
                msg: Some(Value::String(s)),
            }) => s,
            Ok(Args { msg: Some(other) }) => other.to_string(),
            Ok(Args { msg: None }) => "Failed as requested from task".into(),
            Err(e) => e.message,
        };
        Ok(ModuleResult::failed(msg))
    }
}
