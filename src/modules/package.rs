//! `package` (also `yum`, `dnf`, `apt`): install or remove packages with whichever of
//! apt-get, dnf, yum the target has. What is already installed is checked first (dpkg-query,
//! rpm) and left alone, so a second run changes nothing. One script per task.

use super::args::{self, check_choice, fresh_mark, split_marks, trim_end_newlines};
use super::{ArgError, Failure, ModuleCtx, ModuleResult, TypedModule};
use crate::host::{sh_script, RemoteCommand};
use async_trait::async_trait;
use serde::Deserialize;
use serde_json::{json, Value};

pub struct Package;

const STATES: &[&str] = &["present", "installed", "latest", "absent", "removed"];
const MANAGERS: &[&str] = &["auto", "apt", "dnf", "yum"];

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Args {
    /// Aliases as Ansible documents them: `pkg` (apt, dnf), `package` (apt).
    #[serde(
        default,
        alias = "pkg",
        alias = "package",
        deserialize_with = "args::opt_list"
    )]
    name: Option<Vec<String>>,
    #[serde(default)]
    state: Option<String>,
    /// `update-cache` (apt), `expire-cache` (dnf).
    #[serde(
        default,
        alias = "update-cache",
        alias = "expire-cache",
        deserialize_with = "args::opt_bool"
    )]
    update_cache: Option<bool>,
    /// apt: accepted; the cache is refreshed whenever `update_cache` is set.
    #[serde(default, deserialize_with = "args::opt_f64")]
    #[allow(dead_code)]
    cache_valid_time: Option<f64>,
    #[serde(default, alias = "install-recommends", deserialize_with = "args::opt_bool")]
    install_recommends: Option<bool>,
    #[serde(default, deserialize_with = "args::opt_list")]
    enablerepo: Option<Vec<String>>,
    #[serde(default, deserialize_with = "args::opt_list")]
    disablerepo: Option<Vec<String>>,
    #[serde(default, deserialize_with = "args::opt_bool")]
    disable_gpg_check: Option<bool>,
    #[serde(default, rename = "use")]
    manager: Option<String>,
}

impl Args {
    fn check(&self) -> Result<(), ArgError> {
        check_choice("state", self.state.as_deref(), STATES)?;
        check_choice("use", self.manager.as_deref(), MANAGERS)?;
        if self.name.as_ref().is_none_or(|n| n.is_empty()) && self.update_cache != Some(true) {
            return Err(ArgError::new(
                "`package` needs `name` (a package, a list, or a comma-separated string)",
            ));
        }
        match self
            .name
            .iter()
            .flatten()
            .find(|n| !args::is_template(n) && !valid_package(n))
        {
            Some(bad) => Err(ArgError::new(format!("`{bad}` is not a package name")).key("name")),
            None => Ok(()),
        }
    }

    /// Once rendered, every name is final, `{{` or not: the script splits the lists of
    /// names on blanks and hands them to the package manager, where `-o...` is an option.
    fn check_rendered(&self) -> Result<(), ArgError> {
        args::check_rendered_choice(
            "state",
            self.state
                .as_deref()
                .filter(|s| !s.is_empty())
                .or(Some("present")),
            STATES,
        )?;
        args::check_rendered_choice("use", self.manager.as_deref().or(Some("auto")), MANAGERS)?;
        match self.name.iter().flatten().find(|n| !valid_package(n)) {
            Some(bad) => Err(ArgError::new(format!(
                "`{bad}` is not a package name (it may not start with `-` or hold blanks); nothing was run"
            ))
            .key("name")),
            None => Ok(()),
        }
    }
}

/// A name (or `name=version`, `name>=1.2`) the script may split on blanks and pass on.
fn valid_package(name: &str) -> bool {
    !name.is_empty()
        && !name.starts_with('-')
        && !name.contains(|c: char| c.is_whitespace() || c.is_control())
}

fn script(a: &Args, check_mode: bool, mark: &str) -> String {
    let flag = |b: bool| if b { "1" } else { "0" };
    let apt_opts = match a.install_recommends {
        Some(true) => "--install-recommends",
        Some(false) => "--no-install-recommends",
        None => "",
    };
    let state = match a.state.as_deref().unwrap_or("present") {
        "installed" => "present",
        "removed" => "absent",
        s => s,
    };
    let lines = |v: &Option<Vec<String>>| v.iter().flatten().cloned().collect::<Vec<_>>().join("\n");
    sh_script(
        &[
            ("m", mark),
            ("names", &lines(&a.name)),
            ("state", state),
            ("mgr", a.manager.as_deref().unwrap_or("")),
            ("check", flag(check_mode)),
            ("update", flag(a.update_cache == Some(true))),
            ("apt_opts", apt_opts),
            ("enablerepo", &lines(&a.enablerepo)),
            ("disablerepo", &lines(&a.disablerepo)),
            ("nogpgcheck", flag(a.disable_gpg_check == Some(true))),
        ],
        include_str!("package.sh"),
    )
}

/// A package that exists only in another family's repositories gets a pointed message.
fn missing_message(missing: &[&str], mgr: &str) -> String {
    let mut msg = format!(
        "No package matching '{}' is available (via {mgr})",
        missing.join("', '")
    );
    let redhat_only = missing
        .iter()
        .any(|p| p.starts_with("epel-release") || p.starts_with("yum-utils"));
    if mgr == "apt" && redhat_only {
        msg.push_str(
            ": epel-release is a RedHat/CentOS repository package and this host is Debian-family (apt); \
             skip the task there with `when: ansible_os_family == \"RedHat\"`",
        );
    }
    msg
}

fn words(s: Option<&String>) -> Vec<&str> {
    s.map(|s| s.split_whitespace().collect()).unwrap_or_default()
}

#[async_trait]
impl TypedModule for Package {
    type Args = Args;

    fn name(&self) -> &'static str {
        "package"
    }

    fn aliases(&self) -> &'static [&'static str] {
        &["yum", "dnf", "apt"]
    }

    fn check(&self, a: &Args, _raw: &Value) -> Result<(), ArgError> {
        a.check()
    }

    fn check_rendered(&self, a: &Args) -> Result<(), ArgError> {
        a.check_rendered()
    }

    async fn run(&self, ctx: &ModuleCtx<'_>, a: Args) -> Result<ModuleResult, Failure> {
        let mark = fresh_mark();
        let cmd = RemoteCommand::new(script(&a, ctx.check_mode, &mark)).run_as(ctx.run_as.cloned());
        let out = ctx.host.run(&cmd).await?;
        let (marks, stdout) = split_marks(&out.stdout, &mark);
        let mgr = marks.get("pkg_mgr").cloned().unwrap_or_default();
        let install: Vec<&str> = words(marks.get("install"))
            .into_iter()
            .chain(words(marks.get("upgrade")))
            .collect();
        let remove = words(marks.get("remove"));
        let missing = words(marks.get("missing"));
        let mut r = ModuleResult::changed(marks.get("changed").map(String::as_str) == Some("1"));
        r.rc = Some(out.rc);
        r.stdout = Some(trim_end_newlines(&stdout));
        r.stderr = Some(trim_end_newlines(&out.stderr));
        r.extra.insert("pkg_mgr".into(), json!(mgr));
        r.extra
            .insert("changes".into(), json!({"installed": install, "removed": remove}));
        if !missing.is_empty() {
            r.failed = true;
            r.changed = false;
            r.msg = Some(missing_message(&missing, &mgr));
        } else if out.rc != 0 {
            r.failed = true;
            let unknown: Vec<&str> = (stdout.lines().chain(out.stderr.lines()))
                .filter_map(|l| {
                    l.strip_prefix("E: Unable to locate package ")
                        .or_else(|| l.strip_prefix("No match for argument: "))
                        .map(str::trim)
                })
                .collect();
            r.msg = Some(if unknown.is_empty() {
                out.stderr
                    .trim()
                    .lines()
                    .last()
                    .unwrap_or("package manager failed")
                    .to_owned()
            } else {
                missing_message(&unknown, &mgr)
            });
        } else {
            r.msg = Some(match (install.is_empty(), remove.is_empty()) {
                (true, true) => "Nothing to do".into(),
                (false, _) => format!("Installed: {}", install.join(" ")),
                (true, false) => format!("Removed: {}", remove.join(" ")),
            });
        }
        Ok(r)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::modules::{Module, StaticCtx};
    use std::path::Path;

    #[test]
    fn rendered_names_are_checked_even_with_braces() {
        let rendered = |name: &str| args::parse::<Args>("package", &json!({ "name": name })).unwrap();
        let err = rendered("-oAPT::Update::Pre-Invoke::=touch {{")
            .check_rendered()
            .unwrap_err();
        assert_eq!(err.key.as_deref(), Some("name"), "{err:?}");
        assert!(rendered("nginx {{").check_rendered().is_err());
        assert!(rendered("nginx\n-y").check_rendered().is_err());
        assert!(rendered("nginx=1.2, socat").check_rendered().is_ok());
    }

    #[test]
    fn names_states_and_aliases() {
        let ctx = StaticCtx {
            playbook_dir: Path::new("."),
            role_path: None,
        };
        assert!(Package
            .check_args(&json!({"name": "haproxy,socat", "state": "installed"}), &ctx)
            .is_ok());
        assert!(Package
            .check_args(&json!({"name": "{{ item }}", "state": "{{ st }}"}), &ctx)
            .is_ok());
        let err = Package
            .check_args(&json!({"name": "nginx", "state": "instaled"}), &ctx)
            .unwrap_err();
        assert_eq!(
            (err.key.as_deref(), err.hint.as_deref()),
            (Some("state"), Some("did you mean `installed`?"))
        );
        assert!(Package.check_args(&json!({"state": "present"}), &ctx).is_err());
        assert!(Package.check_args(&json!({"update_cache": "yes"}), &ctx).is_ok());
        for name in ["yum", "dnf", "apt", "ansible.builtin.yum", "package"] {
            assert_eq!(
                crate::modules::registry().get(name).map(|m| m.name()),
                Some("package")
            );
        }
    }

    #[test]
    fn epel_on_debian_says_why() {
        let msg = missing_message(&["epel-release"], "apt");
        assert!(
            msg.contains("No package matching 'epel-release'") && msg.contains("Debian"),
            "{msg}"
        );
    }
}
