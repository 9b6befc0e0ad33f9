//! `pause`: wait `seconds` (or `minutes`) on the controller. Prompting for input is not
//! supported: zdd runs unattended.

use super::args;
use super::{ArgError, Module, ModuleCtx, ModuleResult, StaticCtx};
use crate::host::HostError;
use async_trait::async_trait;
use serde::Deserialize;
use serde_json::{json, Value};
use std::time::Duration;

pub struct Pause;

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Args {
    #[serde(default)]
    seconds: Option<Value>,
    #[serde(default)]
    minutes: Option<Value>,
    #[serde(default)]
    prompt: Option<Value>,
    #[serde(default)]
    echo: Option<Value>,
}

fn number(v: &Value) -> Option<f64> {
    match v {
        Value::Number(n) => n.as_f64(),
        Value::String(s) => s.trim().parse().ok(),
        _ => None,
    }
}

/// How long to wait; `None` while a value is still a template.
fn duration(a: &Args) -> Result<Option<Duration>, ArgError> {
    let (value, scale, key) = match (&a.seconds, &a.minutes) {
        (Some(s), None) => (s, 1.0, "seconds"),
        (None, Some(m)) => (m, 60.0, "minutes"),
        (Some(_), Some(_)) => {
            return Err(ArgError::new("`seconds` and `minutes` are exclusive").key("minutes"))
        }
        (None, None) => {
            return Err(
                ArgError::new("zdd does not wait for input: give `pause` `seconds` or `minutes`")
                    .hint("zdd runs unattended; to stop between batches, interrupt it with Ctrl-C"),
            )
        }
    };
    if value.as_str().is_some_and(|s| s.contains("{{")) {
        return Ok(None);
    }
    match number(value) {
        Some(n) if n >= 0.0 => Ok(Some(Duration::from_secs_f64(n * scale))),
        _ => Err(ArgError::new(format!("`{key}` must be a number, got {value}")).key(key)),
    }
}

#[async_trait]
impl Module for Pause {
    fn name(&self) -> &'static str {
        "pause"
    }

    fn controller_only(&self) -> bool {
        true
    }

    fn check_args(&self, raw: &Value, _ctx: &StaticCtx<'_>) -> Result<(), ArgError> {
        let a = args::parse::<Args>(self.name(), raw)?;
        duration(&a).map(|_| ())
    }

    async fn run(&self, _ctx: &ModuleCtx<'_>, raw: &Value) -> Result<ModuleResult, HostError> {
        let a = match args::parse::<Args>(self.name(), raw) {
            Ok(a) => a,
            Err(e) => return Ok(ModuleResult::failed(e.message)),
        };
        let wait = match duration(&a) {
            Ok(Some(d)) => d,
            Ok(None) => {
                return Ok(ModuleResult::failed(
                    "pause: the duration did not render to a number",
                ))
            }
            Err(e) => return Ok(ModuleResult::failed(e.message)),
        };
        let _ = (&a.prompt, &a.echo);
        tokio::time::sleep(wait).await;
        let mut r = ModuleResult::ok();
        r.stdout = Some(format!("Paused for {} seconds", wait.as_secs_f64()));
        r.extra.insert("user_input".into(), json!(""));
        r.extra.insert("echo".into(), json!(true));
        Ok(r)
    }
}
