//! `package_facts`: `ansible_facts.packages`, each installed package's name mapped to a
//! list of its installed versions, as Ansible builds it: for apt `name version arch
//! category origin source` (dpkg-query, and `apt-cache policy` for the origin: the
//! Release file's `Origin` of the first source holding the installed version, "" when
//! only dpkg knows it), for rpm `name version release epoch arch source`. `manager` auto
//! tries apt then rpm (`strategy` first: the first that has packages; all: both).
//! Ansible's other managers (apk, pacman, pkg, pkg_info, portage) are not read natively.

use super::args::{self, check_choice, fresh_mark, mark_lines};
use super::{ArgError, Failure, ModuleCtx, ModuleResult, TypedModule};
use crate::host::{sh_script, RemoteCommand};
use async_trait::async_trait;
use serde::Deserialize;
use serde_json::{json, Map, Value};

pub struct PackageFacts;

/// Ansible's managers and their aliases (`dnf`, `dnf5`, `yum`, `zypper` are rpm).
const KNOWN: &[&str] = &[
    "auto",
    "apk",
    "apt",
    "pacman",
    "pkg",
    "pkg_info",
    "portage",
    "rpm",
    "dnf",
    "dnf5",
    "yum",
    "zypper",
    "pkg5",
    "pkgng",
    "openbsd_pkg",
];

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Args {
    #[serde(default, deserialize_with = "args::opt_list")]
    manager: Option<Vec<String>>,
    #[serde(default)]
    strategy: Option<String>,
}

/// The managers to try, in order, deduplicated; an error names those zdd cannot read.
fn managers(asked: &[String]) -> Result<Vec<&'static str>, String> {
    let mut out: Vec<&'static str> = Vec::new();
    let mut push = |m: &'static str| {
        if !out.contains(&m) {
            out.push(m);
        }
    };
    let mut unsupported = Vec::new();
    for m in asked {
        match m.to_lowercase().as_str() {
            "auto" => {
                push("apt");
                push("rpm");
            }
            "apt" => push("apt"),
            "rpm" | "dnf" | "dnf5" | "yum" | "zypper" => push("rpm"),
            other => unsupported.push(other.to_owned()),
        }
    }
    if !unsupported.is_empty() {
        return Err(format!(
            "zdd reads only apt and rpm packages natively, not: {}",
            unsupported.join(", ")
        ));
    }
    Ok(out)
}

fn packages(marks: &[(&str, &str)]) -> Map<String, Value> {
    let mut packages = Map::new();
    for (kind, line) in marks {
        let f: Vec<&str> = line.split('\t').collect();
        let entry = match (*kind, f.as_slice()) {
            ("apt", [name, version, arch, category, origin]) => json!({
                "name": name, "version": version, "arch": arch, "category": category,
                "origin": origin, "source": "apt",
            }),
            ("rpm", [name, version, release, epoch, arch]) => json!({
                "name": name, "version": version, "release": release,
                "epoch": if *epoch == "(none)" { "None" } else { epoch },
                "arch": arch, "source": "rpm",
            }),
            _ => continue,
        };
        let list = packages.entry(f[0].to_owned()).or_insert_with(|| json!([]));
        if let Value::Array(list) = list {
            list.push(entry);
        }
    }
    packages
}

#[async_trait]
impl TypedModule for PackageFacts {
    type Args = Args;

    fn name(&self) -> &'static str {
        "package_facts"
    }

    fn check(&self, a: &Args, _raw: &Value) -> Result<(), ArgError> {
        check_choice("strategy", a.strategy.as_deref(), &["first", "all"])?;
        for m in a.manager.iter().flatten() {
            if !args::is_template(m) && !KNOWN.contains(&m.to_lowercase().as_str()) {
                return Err(
                    ArgError::new(format!("Unsupported package managers requested: {m}")).key("manager"),
                );
            }
        }
        Ok(())
    }

    async fn run(&self, ctx: &ModuleCtx<'_>, a: Args) -> Result<ModuleResult, Failure> {
        let asked = a.manager.clone().unwrap_or_else(|| vec!["auto".into()]);
        let list = managers(&asked)?;
        let mark = fresh_mark();
        let script = sh_script(
            &[
                ("m", &mark),
                ("managers", &list.join(" ")),
                ("strategy", a.strategy.as_deref().unwrap_or("first")),
            ],
            include_str!("package_facts.sh"),
        );
        let out = ctx
            .host
            .run(&RemoteCommand::new(script).run_as(ctx.run_as.cloned()))
            .await?;
        let mut rest = String::new();
        let marks = mark_lines(&out.stdout, &mark, &mut rest);
        if out.rc != 0 || !marks.iter().any(|(k, v)| *k == "found" && *v == "1") {
            return Err(format!(
                "Could not detect a supported package manager from the following list: {list:?}, \
                 or the required Python library is not installed. Check warnings for details."
            )
            .into());
        }
        let mut facts = Map::new();
        facts.insert("packages".into(), Value::Object(packages(&marks)));
        let mut r = ModuleResult::ok();
        r.facts = crate::vars::VarMap::from([("ansible_facts".into(), Value::Object(facts))]);
        Ok(r)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn managers_expand_auto_and_aliases() {
        assert_eq!(managers(&["auto".into()]).unwrap(), ["apt", "rpm"]);
        assert_eq!(
            managers(&["yum".into(), "apt".into(), "rpm".into()]).unwrap(),
            ["rpm", "apt"]
        );
        assert!(managers(&["pacman".into()]).unwrap_err().contains("pacman"));
    }

    #[test]
    fn packages_group_versions_under_their_name() {
        let p = packages(&[
            ("apt", "openssh-server\t1:9.2p1-2\tamd64\tnet\tDebian"),
            ("rpm", "kernel\t5.14.0\t1.el9\t(none)\tx86_64"),
            ("rpm", "kernel\t5.14.1\t1.el9\t1\tx86_64"),
            ("found", "1"),
        ]);
        assert_eq!(p["openssh-server"][0]["category"], "net");
        assert_eq!(p["openssh-server"][0]["origin"], "Debian");
        assert_eq!(p["kernel"][0]["epoch"], "None");
        assert_eq!(p["kernel"].as_array().unwrap().len(), 2);
    }
}
