//! `assert`: every expression of `that` must hold, evaluated on the controller like `when`.

use super::{ArgError, Failure, ModuleCtx, ModuleResult, TypedModule};
use async_trait::async_trait;
use serde::Deserialize;
use serde_json::{json, Value};

pub struct Assert;

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Args {
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
impl TypedModule for Assert {
    type Args = Args;

    fn name(&self) -> &'static str {
        "assert"
    }

    fn controller_only(&self) -> bool {
        true
    }

    fn check(&self, a: &Args, _raw: &Value) -> Result<(), ArgError> {
        conditions(&a.that).map(|_| ())
    }

    async fn run(&self, ctx: &ModuleCtx<'_>, a: Args) -> Result<ModuleResult, Failure> {
        for condition in &conditions(&a.that)? {
            let holds = ctx
                .templater
                .eval_bool(condition, ctx.vars)
                .map_err(|e| format!("The conditional check '{condition}' failed. The error was: {e}"))?;
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
