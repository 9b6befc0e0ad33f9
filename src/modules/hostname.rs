//! `hostname`: the host's current and permanent name set to `name`, in one round trip
//! (`hostname.sh`), by Ansible's strategies: hostnamectl on a systemd host (`use:
//! systemd`/`debian`), else /etc/hostname (Debian, Ubuntu; Alpine also runs `hostname -F`),
//! /etc/HOSTNAME for `use: sles`. Changed when either name differs; returns `name`, the
//! `ansible_facts` Ansible returns (hostname, nodename, fqdn, domain) and its diff.

use super::args::{check_choice, fresh_mark, split_marks};
use super::{ArgError, Failure, ModuleCtx, ModuleResult, TypedModule};
use crate::host::{sh_script, RemoteCommand};
use async_trait::async_trait;
use serde::Deserialize;
use serde_json::{json, Value};

pub struct Hostname;

const USES: &[&str] = &[
    "alpine", "debian", "freebsd", "generic", "macos", "macosx", "darwin", "openbsd", "openrc", "redhat",
    "solaris", "sles", "systemd",
];
/// The strategies `hostname.sh` knows.
const NATIVE_USES: &[&str] = &["alpine", "debian", "sles", "systemd"];

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Args {
    name: String,
    #[serde(default, rename = "use")]
    strategy: Option<String>,
}

/// Ansible's facts for the new name; `fqdn` as the host resolves its name afterwards.
fn facts(name: &str, fqdn: &str) -> Value {
    let domain = fqdn.split_once('.').map(|(_, d)| d).unwrap_or("");
    json!({
        "ansible_hostname": name.split('.').next().unwrap_or(name),
        "ansible_nodename": name,
        "ansible_fqdn": fqdn,
        "ansible_domain": domain,
    })
}

#[async_trait]
impl TypedModule for Hostname {
    type Args = Args;

    fn name(&self) -> &'static str {
        "hostname"
    }

    fn check(&self, a: &Args, _raw: &Value) -> Result<(), ArgError> {
        check_choice("use", a.strategy.as_deref(), USES)
    }

    async fn run(&self, ctx: &ModuleCtx<'_>, a: Args) -> Result<ModuleResult, Failure> {
        let strategy = a.strategy.as_deref().unwrap_or("");
        if !strategy.is_empty() && !NATIVE_USES.contains(&strategy) {
            return Err(Failure::Task(format!(
                "use={strategy}: zdd sets hostnames with the {} strategies only",
                NATIVE_USES.join(", ")
            )));
        }
        let mark = fresh_mark();
        let script = sh_script(
            &[
                ("m", mark.as_str()),
                ("name", &a.name),
                ("use", strategy),
                ("check", if ctx.check_mode { "1" } else { "0" }),
            ],
            include_str!("hostname.sh"),
        );
        let out = ctx
            .host
            .run(&RemoteCommand::new(script).run_as(ctx.run_as.cloned()))
            .await?;
        if out.rc != 0 {
            return Err(Failure::Task(out.stderr.trim().to_owned()));
        }
        let marks = split_marks(&out.stdout, &mark).0;
        let get = |k: &str| marks.get(k).cloned().unwrap_or_default();
        let (current, permanent) = (get("current"), get("permanent"));
        let changed = current != a.name || permanent != a.name;
        let mut r = ModuleResult::changed(changed);
        r.extra.insert("name".into(), json!(a.name));
        let facts = facts(&a.name, &get("fqdn"));
        // As Ansible stores them: `ansible_hostname` and `ansible_facts.hostname` (the
        // registered `ansible_facts` holds the `ansible_` names too).
        let stripped = facts
            .as_object()
            .into_iter()
            .flatten()
            .map(|(k, v)| (k.trim_start_matches("ansible_").to_owned(), v.clone()))
            .collect();
        r.facts = super::setup::as_vars(stripped);
        if changed {
            let before = if a.name != current { current } else { permanent };
            r.extra.insert(
                "diff".into(),
                json!({"before": format!("hostname = {before}\n"), "after": format!("hostname = {}\n", a.name)}),
            );
        }
        Ok(r)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn facts_split_the_name_and_the_fqdn() {
        let f = facts("web1.example.com", "web1.example.com");
        assert_eq!(f["ansible_hostname"], "web1");
        assert_eq!(f["ansible_domain"], "example.com");
        assert_eq!(facts("vm", "localhost")["ansible_domain"], "");
    }
}
