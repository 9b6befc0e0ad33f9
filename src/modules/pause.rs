//! `pause`: wait `seconds` (or `minutes`) on the controller. Prompting for input is not
//! supported: zdd runs unattended.

use super::{ArgError, Failure, HostLoop, ModuleCtx, ModuleResult, StaticCtx, TypedModule};
use async_trait::async_trait;
use serde::Deserialize;
use serde_json::{json, Value};
use std::time::Duration;

pub struct Pause;

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Args {
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
impl TypedModule for Pause {
    type Args = Args;

    fn name(&self) -> &'static str {
        "pause"
    }

    fn controller_only(&self) -> bool {
        true
    }

    /// As in Ansible, it runs once, for the first host.
    fn host_loop(&self) -> HostLoop {
        HostLoop::OnceForAll
    }

    fn check_static(&self, a: &Args, _raw: &Value, _ctx: &StaticCtx<'_>) -> Result<(), ArgError> {
        duration(a).map(|_| ())
    }

    async fn run(&self, _ctx: &ModuleCtx<'_>, a: Args) -> Result<ModuleResult, Failure> {
        let Some(wait) = duration(&a)? else {
            return Err("pause: the duration did not render to a number".into());
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
