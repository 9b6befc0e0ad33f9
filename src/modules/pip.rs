//! `pip`: install, upgrade or remove Python packages, in a virtualenv it creates when
//! asked (`virtualenv`, `virtualenv_command`, `virtualenv_python`), as Ansible's module
//! does: pip runs every time, and `changed` is "Successfully installed" (or "uninstalled")
//! in its output. Check mode reads `pip list --format=freeze`; a name with a version
//! specifier other than `==` counts as present when installed at all (Ansible evaluates
//! the specifier).

use super::args::{self, check_choice, fresh_mark, mark_lines};
use super::{ArgError, Failure, ModuleCtx, ModuleResult, StaticCtx, TypedModule};
use crate::host::{sh_script, RemoteCommand};
use async_trait::async_trait;
use serde::Deserialize;
use serde_json::{json, Value};

pub struct Pip;

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Args {
    #[serde(default)]
    state: Option<String>,
    #[serde(default, deserialize_with = "args::opt_list")]
    name: Option<Vec<String>>,
    #[serde(default, deserialize_with = "args::opt_text")]
    version: Option<String>,
    #[serde(default)]
    requirements: Option<String>,
    #[serde(default)]
    virtualenv: Option<String>,
    #[serde(default, deserialize_with = "args::opt_bool")]
    virtualenv_site_packages: Option<bool>,
    #[serde(default)]
    virtualenv_command: Option<String>,
    #[serde(default)]
    virtualenv_python: Option<String>,
    #[serde(default)]
    extra_args: Option<String>,
    #[serde(default, deserialize_with = "args::opt_bool")]
    editable: Option<bool>,
    #[serde(default)]
    chdir: Option<String>,
    #[serde(default)]
    executable: Option<String>,
    #[serde(default, deserialize_with = "args::opt_text")]
    umask: Option<String>,
    #[serde(default, deserialize_with = "args::opt_bool")]
    break_system_packages: Option<bool>,
}

const STATES: &[&str] = &["present", "absent", "latest", "forcereinstall"];

fn state_words(state: &str) -> &'static [&'static str] {
    match state {
        "absent" => &["uninstall", "-y"],
        "latest" => &["install", "-U"],
        "forcereinstall" => &["install", "-U", "--force-reinstall"],
        _ => &["install"],
    }
}

/// PEP 503 names: case and runs of `-_.` do not matter.
fn normalize(name: &str) -> String {
    let mut out = String::new();
    for c in name.to_lowercase().chars() {
        let c = if matches!(c, '_' | '.') { '-' } else { c };
        if !(c == '-' && out.ends_with('-')) {
            out.push(c);
        }
    }
    out
}

/// A requirement's name and its `==` version, if it pins one.
fn split_requirement(req: &str) -> (&str, Option<&str>) {
    let at = req
        .find(['=', '<', '>', '!', '~', '[', ';', ' '])
        .unwrap_or(req.len());
    let version = req[at..].strip_prefix("==").map(str::trim);
    (req[..at].trim(), version)
}

fn is_present(req: &str, frozen: &[&str]) -> bool {
    let (name, version) = split_requirement(req);
    frozen
        .iter()
        .filter_map(|l| l.split_once("=="))
        .any(|(n, v)| normalize(n) == normalize(name) && version.is_none_or(|want| want == v.trim()))
}

#[async_trait]
impl TypedModule for Pip {
    type Args = Args;

    fn name(&self) -> &'static str {
        "pip"
    }

    fn check(&self, a: &Args, _raw: &Value) -> Result<(), ArgError> {
        check_choice("state", a.state.as_deref(), STATES)
    }

    fn check_static(&self, a: &Args, _raw: &Value, _ctx: &StaticCtx<'_>) -> Result<(), ArgError> {
        if a.name.is_none() && a.requirements.is_none() {
            return Err(ArgError::new(
                "one of the following is required: name, requirements",
            ));
        }
        if a.name.is_some() && a.requirements.is_some() {
            return Err(ArgError::new(
                "parameters are mutually exclusive: name|requirements",
            ));
        }
        if a.executable.is_some() && a.virtualenv.is_some() {
            return Err(ArgError::new(
                "parameters are mutually exclusive: executable|virtualenv",
            ));
        }
        Ok(())
    }

    async fn run(&self, ctx: &ModuleCtx<'_>, a: Args) -> Result<ModuleResult, Failure> {
        let state = a.state.clone().unwrap_or_else(|| "present".into());
        if state == "latest" && a.version.is_some() {
            return Err("version is incompatible with state=latest".into());
        }
        let venv_cmd = a
            .virtualenv_command
            .clone()
            .unwrap_or_else(|| "virtualenv".into());
        if a.virtualenv_python.is_some() && (venv_cmd.contains("pyvenv") || venv_cmd.contains("-m venv")) {
            return Err(
                "virtualenv_python should not be used when using the venv module or pyvenv as virtualenv_command".into(),
            );
        }
        let env = match (&a.virtualenv, &a.chdir) {
            (Some(env), Some(dir)) if !env.starts_with('/') => {
                Some(format!("{}/{env}", dir.trim_end_matches('/')))
            }
            (env, _) => env.clone(),
        };
        let mut packages: Vec<String> = a.name.clone().unwrap_or_default();
        if let Some(version) = &a.version {
            if packages.len() > 1 {
                return Err(
                    "'version' argument is ambiguous when installing multiple package distributions. \
                     Please specify version restrictions next to each package in 'name' argument."
                        .into(),
                );
            }
            if let Some(p) = packages.first_mut() {
                let op = version.starts_with(['=', '<', '>', '!', '~']);
                *p = if op {
                    format!("{p}{version}")
                } else {
                    format!("{p}=={version}")
                };
            }
        }
        let mut extra = a.extra_args.clone().unwrap_or_default();
        if a.editable == Some(true) && !extra.split(' ').any(|w| w == "-e") {
            extra = if extra.is_empty() {
                "-e".into()
            } else {
                format!("{extra} -e")
            };
        }
        let extra_words = shell_words::split(&extra).map_err(|e| format!("cannot split extra_args: {e}"))?;
        let mut words: Vec<String> = state_words(&state).iter().map(|s| s.to_string()).collect();
        words.extend(extra_words);
        match &a.requirements {
            Some(req) if packages.is_empty() => words.extend(["-r".to_owned(), req.clone()]),
            _ => words.extend(packages.iter().cloned()),
        }
        let venv_words =
            shell_words::split(&venv_cmd).map_err(|e| format!("cannot split virtualenv_command: {e}"))?;
        let flag = |b: bool| if b { "1" } else { "0" };
        let mark = fresh_mark();
        let script = sh_script(
            &[
                ("m", &mark),
                ("env", env.as_deref().unwrap_or("")),
                ("venv_cmd", &venv_words.join("\n")),
                ("venv_python", a.virtualenv_python.as_deref().unwrap_or("")),
                ("site_packages", flag(a.virtualenv_site_packages == Some(true))),
                ("executable", a.executable.as_deref().unwrap_or("")),
                ("chdir", a.chdir.as_deref().unwrap_or("")),
                ("umask", a.umask.as_deref().unwrap_or("")),
                ("check", flag(ctx.check_mode)),
                ("args", &words.join("\n")),
            ],
            include_str!("pip.sh"),
        );
        let mut cmd = RemoteCommand::new(script).run_as(ctx.run_as.cloned());
        if a.break_system_packages == Some(true) {
            cmd.script = format!(
                "PIP_BREAK_SYSTEM_PACKAGES=1; export PIP_BREAK_SYSTEM_PACKAGES\n{}",
                cmd.script
            );
        }
        let out = ctx.host.run(&cmd).await?;
        let mut stdout = String::new();
        let marks = mark_lines(&out.stdout, &mark, &mut stdout);
        let all =
            |key: &str| -> Vec<&str> { marks.iter().filter(|(k, _)| *k == key).map(|(_, v)| *v).collect() };
        let argv = all("argv");
        if marks.iter().any(|(k, _)| *k == "venv_check") {
            return Ok(ModuleResult::changed(true));
        }
        if argv.is_empty() {
            let mut r = ModuleResult::failed(if out.stderr.trim().is_empty() {
                format!("stdout: {stdout}")
            } else {
                format!("stdout: {stdout}\n:stderr: {}", out.stderr)
            });
            if let Some(c) = all("cmd").first() {
                r.extra.insert("cmd".into(), json!(c));
            }
            if out.rc == 2 {
                r.msg = Some(out.stderr.trim_end().to_owned());
            }
            return Ok(r);
        }
        let created = all("created").first() == Some(&"1");
        if ctx.check_mode {
            if !extra.is_empty() || a.requirements.is_some() || state == "latest" || packages.is_empty() {
                return Ok(ModuleResult::changed(true));
            }
            let frozen = all("frozen");
            let changed = packages.iter().any(|p| {
                let present = is_present(p, &frozen);
                (state == "present" && !present) || (state == "absent" && present)
            });
            let mut r = ModuleResult::changed(changed);
            r.extra.insert("cmd".into(), json!(argv.join(" ")));
            r.stdout = Some(frozen.iter().map(|l| format!("{l}\n")).collect());
            r.stderr = Some(out.stderr.clone());
            return Ok(r);
        }
        let not_installed = out.stdout.contains("not installed") || out.stderr.contains("not installed");
        if out.rc != 0 && !(out.rc == 1 && state == "absent" && not_installed) {
            let mut msg = String::new();
            if !stdout.is_empty() {
                msg.push_str(&format!("stdout: {stdout}"));
            }
            if !out.stderr.is_empty() {
                msg.push_str(&format!("\n:stderr: {}", out.stderr));
            }
            let mut r = ModuleResult::failed(msg);
            r.extra.insert("cmd".into(), json!(argv));
            return Ok(r);
        }
        let changed = if state == "absent" {
            stdout.contains("Successfully uninstalled")
        } else {
            stdout.contains("Successfully installed")
        };
        let mut r = ModuleResult::changed(changed || created);
        r.stdout = Some(stdout);
        r.stderr = Some(out.stderr.clone());
        r.extra.insert("cmd".into(), json!(argv));
        r.extra.insert("name".into(), json!(a.name));
        r.extra.insert("version".into(), json!(a.version));
        r.extra.insert("state".into(), json!(state));
        r.extra.insert("requirements".into(), json!(a.requirements));
        r.extra.insert("virtualenv".into(), json!(env));
        Ok(r)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn presence_compares_normalised_names_and_pinned_versions() {
        let frozen = ["Zdd_Fixture==1.0", "requests==2.31.0"];
        assert!(is_present("zdd-fixture", &frozen));
        assert!(is_present("zdd.fixture==1.0", &frozen));
        assert!(!is_present("zdd-fixture==2.0", &frozen));
        assert!(is_present("requests>=2", &frozen));
        assert!(!is_present("flask", &frozen));
    }
}
