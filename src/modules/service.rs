//! `service`: start, stop, restart or reload a service, and enable it at boot.
//!
//! systemd when the target booted with it (`/run/systemd/system` exists), else SysV init:
//! `/etc/init.d/NAME`, or `service NAME`. An absolute `name` is taken as the init script
//! itself (handy for services installed outside /etc/init.d, and for tests).

use super::args::{self, check_choice, fresh_mark, split_marks};
use super::{ArgError, Failure, ModuleCtx, ModuleResult, StaticCtx, TypedModule};
use crate::host::{sh_script, RemoteCommand};
use async_trait::async_trait;
use serde::Deserialize;
use serde_json::{json, Value};

pub struct Service;

const STATES: &[&str] = &["started", "stopped", "restarted", "reloaded"];
const MANAGERS: &[&str] = &["auto", "systemd", "sysv", "service"];

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Args {
    /// `service` and `unit` are `systemd`'s aliases.
    #[serde(alias = "service", alias = "unit")]
    name: String,
    #[serde(default)]
    state: Option<String>,
    #[serde(default, deserialize_with = "args::opt_bool")]
    enabled: Option<bool>,
    #[serde(default, alias = "daemon-reload", deserialize_with = "args::opt_bool")]
    daemon_reload: Option<bool>,
    #[serde(default, rename = "use")]
    manager: Option<String>,
    /// Extra words for the init script (`args` in Ansible).
    #[serde(default, alias = "args")]
    arguments: Option<String>,
}

impl Args {
    fn check(&self) -> Result<(), ArgError> {
        check_choice("state", self.state.as_deref(), STATES)?;
        check_choice("use", self.manager.as_deref(), MANAGERS)?;
        Ok(())
    }
}

fn script(a: &Args, check_mode: bool, mark: &str) -> String {
    let enabled = match a.enabled {
        Some(true) => "1",
        Some(false) => "0",
        None => "",
    };
    let flag = |b: bool| if b { "1" } else { "0" };
    sh_script(
        &[
            ("m", mark),
            ("name", &a.name),
            ("state", a.state.as_deref().unwrap_or("")),
            ("enabled", enabled),
            ("mgr", a.manager.as_deref().unwrap_or("")),
            ("extra", a.arguments.as_deref().unwrap_or("")),
            ("check", flag(check_mode)),
            ("daemon_reload", flag(a.daemon_reload == Some(true))),
        ],
        include_str!("service.sh"),
    )
}

#[async_trait]
impl TypedModule for Service {
    type Args = Args;

    fn name(&self) -> &'static str {
        "service"
    }

    fn aliases(&self) -> &'static [&'static str] {
        &["sysvinit"]
    }

    fn check(&self, a: &Args, _raw: &Value) -> Result<(), ArgError> {
        a.check()
    }

    fn check_static(&self, _a: &Args, raw: &Value, _ctx: &StaticCtx<'_>) -> Result<(), ArgError> {
        // Looked up raw: a templated `enabled` is `None` until rendered.
        let given = |k: &str| raw.get(k).is_some_and(|v| !v.is_null());
        if !given("state") && !given("enabled") && !given("daemon_reload") && !given("daemon-reload") {
            return Err(ArgError::new("`service` needs `state` or `enabled`"));
        }
        Ok(())
    }

    async fn run(&self, ctx: &ModuleCtx<'_>, a: Args) -> Result<ModuleResult, Failure> {
        let mark = fresh_mark();
        let cmd = RemoteCommand::new(script(&a, ctx.check_mode, &mark)).run_as(ctx.run_as.cloned());
        let out = ctx.host.run(&cmd).await?;
        let (marks, _) = split_marks(&out.stdout, &mark);
        let mut r = if out.rc != 0 {
            let mut r = ModuleResult::failed(
                out.stderr
                    .trim()
                    .lines()
                    .last()
                    .unwrap_or("service failed")
                    .to_owned(),
            );
            r.rc = Some(out.rc);
            r.stderr = Some(out.stderr.trim_end().to_owned());
            r
        } else {
            ModuleResult::changed(marks.get("changed").map(String::as_str) == Some("1"))
        };
        r.extra.insert("name".into(), json!(a.name));
        if let Some(state) = &a.state {
            r.extra.insert("state".into(), json!(state));
        }
        if let Some(enabled) = a.enabled {
            r.extra.insert("enabled".into(), json!(enabled));
        }
        for key in ["manager", "status"] {
            if let Some(v) = marks.get(key) {
                r.extra.insert(key.into(), json!(v));
            }
        }
        Ok(r)
    }
}
