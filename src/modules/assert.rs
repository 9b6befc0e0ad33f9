//! `assert`: every expression of `that` must hold, evaluated on the controller like `when`.

use super::args;
use super::{ArgError, Module, ModuleCtx, ModuleResult, StaticCtx};
use crate::host::HostError;
use async_trait::async_trait;
use serde::Deserialize;
use serde_json::{json, Value};

pub struct Assert;

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Args {
    that: Value,
    #[serde(default, alias = "msg")]
    fail_msg: Option<Value>,
    #[serde(default)]
    success_msg: Option<Value>,
    #[serde(default)]
    quiet: Option<Value>,
}

/// `that` as a list of expressions: a string is one, a list is several (all must hold).
fn conditions(that: &Value) -> Result<Vec<String>, ArgError> {
    match that {
        Value::String(s) => Ok(vec![s.clone()]),
        Value::Bool(b) => Ok(vec![b.to_string()]),
        Value::Array(items) => items
            .iter()
            .map(|v| match v {
                Value::String(s) => Ok(s.clone()),
                Value::Bool(b) => Ok(b.to_string()),
                other => Err(ArgError::new(format!("`that` takes expressions, found {other}")).key("that")),
            })
            .collect(),
        other => Err(ArgError::new(format!("`that` takes a list of expressions, found {other}")).key("that")),
    }
}

fn text(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

#[async_trait]
impl Module for Assert {
    fn name(&self) -> &'static str {
        "assert"
    }

    fn controller_only(&self) -> bool {
        true
    }

    fn check_args(&self, raw: &Value, _ctx: &StaticCtx<'_>) -> Result<(), ArgError> {
        let a = args::parse::<Args>(self.name(), raw)?;
        conditions(&a.that).map(|_| ())
    }

    async fn run(&self, ctx: &ModuleCtx<'_>, raw: &Value) -> Result<ModuleResult, HostError> {
        let a = match args::parse::<Args>(self.name(), raw) {
            Ok(a) => a,
            Err(e) => return Ok(ModuleResult::failed(e.message)),
        };
        let that = match conditions(&a.that) {
            Ok(that) => that,
            Err(e) => return Ok(ModuleResult::failed(e.message)),
        };
        for condition in &that {
            let holds = match ctx.templater.eval_bool(condition, ctx.vars) {
                Ok(holds) => holds,
                Err(e) => {
                    return Ok(ModuleResult::failed(format!(
                        "The conditional check '{condition}' failed. The error was: {e}"
                    )))
                }
            };
            if !holds {
                let mut r = ModuleResult::failed(
                    a.fail_msg
                        .as_ref()
                        .map(text)
                        .unwrap_or_else(|| "Assertion failed".into()),
                );
                r.extra.insert("assertion".into(), json!(condition));
                r.extra.insert("evaluated_to".into(), json!(false));
                return Ok(r);
            }
        }
        let mut r = ModuleResult::ok();
        r.msg = Some(
            a.success_msg
                .as_ref()
                .map(text)
                .unwrap_or_else(|| "All assertions passed".into()),
        );
        let _ = a.quiet;
        Ok(r)
    }
}
