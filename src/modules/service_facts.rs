//! `service_facts`: `ansible_facts.services`, as Ansible builds it: SysV init's
//! `service --status-all` (`name state source`), then, when systemd runs, its service
//! units (`name state status source`, the unit file's state as `status` unless the unit
//! is not-found, masked or failed). Read-only. Not read natively: upstart, chkconfig
//! (RHEL 6), OpenRC, and the BSD and AIX sources.

use super::args::{fresh_mark, mark_lines};
use super::{Failure, ModuleCtx, ModuleResult, TypedModule};
use crate::host::{sh_script, RemoteCommand};
use async_trait::async_trait;
use serde::Deserialize;
use serde_json::{json, Map, Value};

pub struct ServiceFacts;

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Args {}

const BAD_STATES: &[&str] = &["not-found", "masked", "failed"];

fn services(marks: &[(&str, &str)]) -> Map<String, Value> {
    let mut services = Map::new();
    for (kind, line) in marks {
        let f: Vec<&str> = line.split('\t').collect();
        match (*kind, f.as_slice()) {
            ("svc", [name, state, status, source]) => {
                let mut s = json!({"name": name, "state": state, "source": source});
                if !status.is_empty() {
                    s["status"] = json!(status);
                }
                services.insert((*name).to_owned(), s);
            }
            ("file", [name, status]) => {
                if let Some(s) = services.get_mut(*name) {
                    if !s["status"].as_str().is_some_and(|st| BAD_STATES.contains(&st)) {
                        s["status"] = json!(status);
                    }
                }
            }
            _ => {}
        }
    }
    services
}

#[async_trait]
impl TypedModule for ServiceFacts {
    type Args = Args;

    fn name(&self) -> &'static str {
        "service_facts"
    }

    fn parse(&self, raw: &Value) -> Result<Args, super::ArgError> {
        if raw.is_null() {
            return Ok(Args {});
        }
        super::args::parse(self.name(), raw)
    }

    async fn run(&self, ctx: &ModuleCtx<'_>, _a: Args) -> Result<ModuleResult, Failure> {
        let mark = fresh_mark();
        let script = sh_script(&[("m", &mark)], include_str!("service_facts.sh"));
        let out = ctx
            .host
            .run(&RemoteCommand::new(script).run_as(ctx.run_as.cloned()))
            .await?;
        let mut rest = String::new();
        let marks = mark_lines(&out.stdout, &mark, &mut rest);
        let found = services(&marks);
        if found.is_empty() {
            let mut r = ModuleResult::ok();
            r.extra.insert("skipped".into(), json!(true));
            r.msg = Some(
                "Failed to find any services. This can be due to privileges or some other configuration issue."
                    .into(),
            );
            return Ok(r);
        }
        let mut facts = Map::new();
        facts.insert("services".into(), Value::Object(found));
        let mut r = ModuleResult::ok();
        r.facts = crate::vars::VarMap::from([("ansible_facts".into(), Value::Object(facts))]);
        Ok(r)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn systemd_units_override_sysv_and_take_their_file_state() {
        let s = services(&[
            ("svc", "ssh\tstopped\t\tsysv"),
            ("svc", "ssh.service\trunning\tactive\tsystemd"),
            ("svc", "bad.service\tstopped\tfailed\tsystemd"),
            ("file", "ssh.service\tenabled"),
            ("file", "bad.service\tenabled"),
        ]);
        assert_eq!(
            s["ssh"],
            json!({"name": "ssh", "state": "stopped", "source": "sysv"})
        );
        assert_eq!(s["ssh.service"]["status"], "enabled");
        assert_eq!(s["bad.service"]["status"], "failed");
    }
}
