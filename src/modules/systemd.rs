//! `systemd_service` (`systemd`): a unit's daemon-reload/-reexec, mask, enable and
//! start/stop/restart/reload, as Ansible's module does them with `systemctl` (one script,
//! `systemd.sh`), `scope` system/user/global, `no_block`, `force`. Returns `name`,
//! `status` (`systemctl show`, parsed as Ansible parses it: `Exec*` values may span
//! lines), `enabled` and `state` when asked for. Where systemd is not running (a
//! container, a chroot) `systemctl show` fails and `status` is empty: enabling and masking
//! still work (systemctl edits the links offline), a `state` fails with Ansible's "Service
//! is in unknown state", as Ansible's does.

use super::args::{self, check_choice, fresh_mark, mark_lines};
use super::{ArgError, Failure, ModuleCtx, ModuleResult, StaticCtx, TypedModule};
use crate::host::{sh_script, RemoteCommand};
use async_trait::async_trait;
use serde::Deserialize;
use serde_json::{json, Map, Value};

pub struct Systemd;

const STATES: &[&str] = &["reloaded", "restarted", "started", "stopped"];
const SCOPES: &[&str] = &["system", "user", "global"];

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Args {
    #[serde(default, alias = "service", alias = "unit")]
    name: Option<String>,
    #[serde(default)]
    state: Option<String>,
    #[serde(default, deserialize_with = "args::opt_bool")]
    enabled: Option<bool>,
    #[serde(default, deserialize_with = "args::opt_bool")]
    force: Option<bool>,
    #[serde(default, deserialize_with = "args::opt_bool")]
    masked: Option<bool>,
    #[serde(default, alias = "daemon-reload", deserialize_with = "args::opt_bool")]
    daemon_reload: Option<bool>,
    #[serde(default, alias = "daemon-reexec", deserialize_with = "args::opt_bool")]
    daemon_reexec: Option<bool>,
    #[serde(default)]
    scope: Option<String>,
    #[serde(default, deserialize_with = "args::opt_bool")]
    no_block: Option<bool>,
}

/// `systemctl show`'s `Key=value` lines as a mapping; only `Exec*` values that open a
/// `{` span lines, up to the line that closes it.
fn parse_show(lines: &[&str]) -> Map<String, Value> {
    let mut parsed = Map::new();
    let mut open: Option<(String, Vec<String>)> = None;
    for line in lines {
        if let Some((key, mut values)) = open.take() {
            values.push((*line).to_owned());
            if line.trim_end().ends_with('}') {
                parsed.insert(key, json!(values.join("\n").trim()));
            } else {
                open = Some((key, values));
            }
            continue;
        }
        let Some((k, v)) = line.split_once('=') else {
            continue;
        };
        if k.starts_with("Exec") && v.trim_start().starts_with('{') && !v.trim_end().ends_with('}') {
            open = Some((k.to_owned(), vec![v.to_owned()]));
            continue;
        }
        parsed.insert(k.to_owned(), json!(v.trim()));
    }
    parsed
}

fn flag(b: Option<bool>) -> &'static str {
    match b {
        Some(true) => "1",
        Some(false) => "0",
        None => "",
    }
}

fn script(a: &Args, check_mode: bool, mark: &str) -> String {
    let on = |b: Option<bool>| if b == Some(true) { "1" } else { "0" };
    sh_script(
        &[
            ("m", mark),
            ("unit", a.name.as_deref().unwrap_or("")),
            ("state", a.state.as_deref().unwrap_or("")),
            ("enabled", flag(a.enabled)),
            ("masked", flag(a.masked)),
            ("daemon_reload", on(a.daemon_reload)),
            ("daemon_reexec", on(a.daemon_reexec)),
            ("scope", a.scope.as_deref().unwrap_or("system")),
            ("no_block", on(a.no_block)),
            ("force", on(a.force)),
            ("check", if check_mode { "1" } else { "0" }),
        ],
        include_str!("systemd.sh"),
    )
}

#[async_trait]
impl TypedModule for Systemd {
    type Args = Args;

    fn name(&self) -> &'static str {
        "systemd_service"
    }

    fn aliases(&self) -> &'static [&'static str] {
        &["systemd"]
    }

    fn check(&self, a: &Args, _raw: &Value) -> Result<(), ArgError> {
        check_choice("state", a.state.as_deref(), STATES)?;
        check_choice("scope", a.scope.as_deref(), SCOPES)?;
        if let Some(name) = a.name.as_deref().filter(|n| !args::is_template(n)) {
            if let Some(glob) = ["*", "?", "["].into_iter().find(|g| name.contains(g)) {
                return Err(ArgError::new(format!(
                    "This module does not currently support using glob patterns, found '{glob}' in service name: {name}"
                ))
                .key("name"));
            }
        }
        Ok(())
    }

    fn check_static(&self, a: &Args, raw: &Value, _ctx: &StaticCtx<'_>) -> Result<(), ArgError> {
        let given = |k: &str| raw.get(k).is_some_and(|v| !v.is_null());
        let one_of = [
            "state",
            "enabled",
            "masked",
            "daemon_reload",
            "daemon-reload",
            "daemon_reexec",
            "daemon-reexec",
        ];
        if !one_of.iter().any(|k| given(k)) {
            return Err(ArgError::new(
                "one of the following is required: state, enabled, masked, daemon_reload, daemon_reexec",
            ));
        }
        if a.name.is_none() && !["name", "service", "unit"].iter().any(|k| given(k)) {
            if let Some(k) = ["state", "enabled", "masked"].into_iter().find(|k| given(k)) {
                return Err(ArgError::new(format!("missing parameter(s) required by '{k}': name")).key(k));
            }
        }
        Ok(())
    }

    async fn run(&self, ctx: &ModuleCtx<'_>, a: Args) -> Result<ModuleResult, Failure> {
        let mark = fresh_mark();
        let cmd = RemoteCommand::new(script(&a, ctx.check_mode, &mark)).run_as(ctx.run_as.cloned());
        let out = ctx.host.run(&cmd).await?;
        let mut rest = String::new();
        let marks = mark_lines(&out.stdout, &mark, &mut rest);
        let get = |key: &str| marks.iter().rev().find(|(k, _)| *k == key).map(|(_, v)| *v);
        let show: Vec<&str> = marks
            .iter()
            .filter(|(k, _)| *k == "show")
            .map(|(_, v)| *v)
            .collect();
        let mut status = parse_show(&show);
        if let Some(active) = get("active") {
            status.insert("ActiveState".into(), json!(active));
        }
        let mut r = match out.rc {
            0 => ModuleResult::changed(get("changed") == Some("1")),
            3 => {
                let mut r = ModuleResult::failed(out.stderr.clone());
                if get("unknown").is_some() {
                    r.extra.insert("status".into(), Value::Object(status));
                }
                return Ok(r);
            }
            4 => {
                let mut r = ModuleResult::failed(out.stderr.trim_end().to_owned());
                r.rc = get("failrc").and_then(|rc| rc.parse().ok());
                r.stdout = Some(rest);
                r.stderr = Some(out.stderr.clone());
                r.extra
                    .insert("cmd".into(), json!(get("failcmd").unwrap_or("systemctl")));
                return Ok(r);
            }
            rc => {
                let mut r = ModuleResult::failed(
                    out.stderr
                        .trim()
                        .lines()
                        .last()
                        .unwrap_or("systemctl failed")
                        .to_owned(),
                );
                r.rc = Some(rc);
                return Ok(r);
            }
        };
        r.extra.insert("name".into(), json!(a.name));
        r.extra.insert("status".into(), Value::Object(status));
        if let Some(enabled) = get("enabled") {
            r.extra.insert("enabled".into(), json!(enabled == "1"));
        }
        if let Some(state) = get("state") {
            r.extra.insert("state".into(), json!(state));
        }
        Ok(r)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn show_output_is_parsed_as_ansible_parses_it() {
        let lines = [
            "Type=simple",
            "ExecStart={ path=/usr/sbin/sshd ; argv[]=/usr/sbin/sshd -D ;",
            "  status=0/0 }",
            "Description={weird",
            "ActiveState=active ",
            "no equals sign",
        ];
        let s = parse_show(&lines);
        assert_eq!(s["Type"], "simple");
        assert_eq!(
            s["ExecStart"],
            "{ path=/usr/sbin/sshd ; argv[]=/usr/sbin/sshd -D ;\n  status=0/0 }"
        );
        assert_eq!(s["Description"], "{weird");
        assert_eq!(s["ActiveState"], "active");
        assert_eq!(s.len(), 4);
    }
}
