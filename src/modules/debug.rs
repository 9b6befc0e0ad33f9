//! `debug`: print a message or a variable, on the controller.

use super::args;
use super::{ArgError, Failure, ModuleCtx, ModuleResult, StaticCtx, TypedModule};
use async_trait::async_trait;
use serde::Deserialize;
use serde_json::{json, Value};

pub struct Debug;

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Args {
    #[serde(default)]
    msg: Option<Value>,
    #[serde(default)]
    var: Option<String>,
    /// Shown only from this `-v` level; kept in the result as `verbosity` for the reporter.
    #[serde(default, deserialize_with = "args::opt_f64")]
    verbosity: Option<f64>,
}

/// What Ansible prints for a variable it cannot find.
pub const NOT_DEFINED: &str = "VARIABLE IS NOT DEFINED!";

#[async_trait]
impl TypedModule for Debug {
    type Args = Args;

    fn name(&self) -> &'static str {
        "debug"
    }

    fn controller_only(&self) -> bool {
        true
    }

    fn shows_result(&self) -> bool {
        true
    }

    fn tolerates_undefined(&self) -> &'static [&'static str] {
        &["var"]
    }

    fn check_static(&self, a: &Args, _raw: &Value, _ctx: &StaticCtx<'_>) -> Result<(), ArgError> {
        if a.msg.is_some() && a.var.is_some() {
            return Err(ArgError::new("`debug` takes `msg` or `var`, not both").key("var"));
        }
        Ok(())
    }

    async fn run(&self, ctx: &ModuleCtx<'_>, a: Args) -> Result<ModuleResult, Failure> {
        let mut r = ModuleResult::ok();
        match (&a.var, &a.msg) {
            (Some(var), _) => {
                let value = match ctx.templater.eval(var, ctx.vars) {
                    Ok(v) => v,
                    Err(e) if e.undefined.is_some() => json!(NOT_DEFINED),
                    Err(e) => return Err(e.message.into()),
                };
                r.extra.insert(var.clone(), value);
            }
            (None, msg) => {
                let msg = msg.clone().unwrap_or_else(|| json!("Hello world!"));
                // A list or mapping keeps its shape: only `extra` carries it then.
                if let Value::String(s) = &msg {
                    r.msg = Some(s.clone());
                }
                r.extra.insert("msg".into(), msg);
            }
        }
        if let Some(v) = a.verbosity.filter(|v| *v > 0.0) {
            r.extra.insert("verbosity".into(), json!(v as u64));
        }
        Ok(r)
    }
}
