//! `include_vars`: variables from a YAML/JSON file, or every file of a directory, on the
//! controller, for the host the task runs for. They sit at Ansible's `include_vars`
//! precedence (above task vars, below `set_fact`), which the runner keeps apart.

use super::{args, ArgError, Failure, ModuleCtx, ModuleResult, StaticCtx, TypedModule};
use crate::vars::VarMap;
use async_trait::async_trait;
use serde::Deserialize;
use serde_json::{json, Value};
use std::path::{Path, PathBuf};

pub struct IncludeVars;

const EXTENSIONS: &[&str] = &["yaml", "yml", "json"];

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Args {
    #[serde(default)]
    _raw_params: Option<String>,
    #[serde(default)]
    file: Option<String>,
    #[serde(default)]
    dir: Option<String>,
    #[serde(default, deserialize_with = "args::opt_f64")]
    depth: Option<f64>,
    #[serde(default)]
    files_matching: Option<String>,
    #[serde(default, deserialize_with = "args::opt_list")]
    ignore_files: Option<Vec<String>>,
    #[serde(default, deserialize_with = "args::opt_list")]
    extensions: Option<Vec<String>>,
    #[serde(default, deserialize_with = "args::opt_bool")]
    ignore_unknown_extensions: Option<bool>,
    #[serde(default)]
    name: Option<String>,
    /// Ansible's `replace` (the default) is what zdd does; `merge` is refused by `check`.
    #[serde(default)]
    hash_behaviour: Option<String>,
}

impl Args {
    fn file(&self) -> Option<&str> {
        self._raw_params.as_deref().or(self.file.as_deref())
    }

    fn has_dir_options(&self) -> bool {
        self.dir.is_some()
            || self.depth.is_some()
            || self.files_matching.is_some()
            || self.ignore_files.is_some()
            || self.extensions.is_some()
            || self.ignore_unknown_extensions.is_some()
    }
}

/// What an `include_vars` task reads, as written: `Some(file)` for a single file, `None`
/// for a directory or arguments that do not parse; and the `name` it puts them under.
pub fn source_of(raw: &Value) -> Option<(Option<String>, Option<String>)> {
    let a: Args = args::parse("include_vars", raw).ok()?;
    Some((a.file().map(str::to_owned), a.name.clone()))
}

/// Where `file` is, as Ansible's `_find_needle('vars', ...)` looks: `vars/FILE` then
/// `FILE` under the role, the task's directory and the playbook's; `Err` lists them.
pub fn find_vars_file(
    file: &str,
    role_path: Option<&Path>,
    task_dir: Option<&Path>,
    playbook_dir: &Path,
) -> Result<PathBuf, Vec<PathBuf>> {
    let p = Path::new(file);
    if p.is_absolute() {
        return if p.is_file() {
            Ok(p.to_path_buf())
        } else {
            Err(vec![p.to_path_buf()])
        };
    }
    let mut looked = Vec::new();
    let bases = role_path.into_iter().chain(task_dir).chain([playbook_dir]);
    for base in bases.filter(|b| !b.as_os_str().is_empty()) {
        let base = std::path::absolute(base).unwrap_or_else(|_| base.to_path_buf());
        for candidate in [base.join("vars").join(p), base.join(p)] {
            if candidate.is_file() {
                return Ok(candidate);
            }
            looked.push(candidate);
        }
    }
    Err(looked)
}

/// A vars file's mapping; an empty file is no variables.
fn load(path: &Path) -> Result<VarMap, String> {
    let src = crate::yaml::Source::read(path).map_err(|d| d.message)?;
    if src.text.trim().is_empty() {
        return Ok(VarMap::new());
    }
    let node = src.parse_any().map_err(|d| d.message)?;
    let value = crate::yaml::to_value(&node);
    if src.vaulted {
        crate::vault::register_secrets_in(&value);
        if let Value::Object(map) = &value {
            map.keys()
                .for_each(|name| crate::vault::register_secret_name(name));
        }
    }
    match value {
        Value::Object(map) => Ok(map.into_iter().collect()),
        Value::Null => Ok(VarMap::new()),
        _ => Err(format!("{} must be stored as a dictionary/hash", path.display())),
    }
}

/// The files of `dir` Ansible's `include_vars` reads, in its order: directories walked in
/// sorted order down to `depth` (0: all), files sorted in each.
fn dir_files(dir: &Path, depth: usize) -> Vec<(PathBuf, String)> {
    fn walk(dir: &Path, level: usize, depth: usize, out: &mut Vec<(PathBuf, Vec<String>)>) {
        let Ok(entries) = std::fs::read_dir(dir) else {
            return;
        };
        let mut files = Vec::new();
        let mut dirs = Vec::new();
        for e in entries.flatten() {
            let path = e.path();
            let name = e.file_name().to_string_lossy().into_owned();
            if path.is_dir() {
                dirs.push(path);
            } else {
                files.push(name);
            }
        }
        files.sort();
        out.push((dir.to_path_buf(), files));
        if depth == 0 || level < depth {
            for d in dirs {
                walk(&d, level + 1, depth, out);
            }
        }
    }
    let mut roots = Vec::new();
    walk(dir, 1, depth, &mut roots);
    roots.sort_by(|a, b| a.0.cmp(&b.0));
    roots
        .into_iter()
        .flat_map(|(root, files)| files.into_iter().map(move |f| (root.join(&f), f)))
        .collect()
}

#[async_trait]
impl TypedModule for IncludeVars {
    type Args = Args;

    fn name(&self) -> &'static str {
        "include_vars"
    }

    fn free_form(&self) -> bool {
        true
    }

    fn controller_only(&self) -> bool {
        true
    }

    fn includes_vars(&self) -> bool {
        true
    }

    fn check(&self, a: &Args, _raw: &Value) -> Result<(), ArgError> {
        if a.file().is_some() && a.has_dir_options() {
            return Err(ArgError::new(
                "You are mixing file only and dir only arguments, these are incompatible",
            ));
        }
        if a.file().is_none() && a.dir.is_none() {
            return Err(ArgError::new("`include_vars` needs a file or `dir`")
                .hint("write `include_vars: vars/main.yml` or `dir: vars/`"));
        }
        if let Some(h) = a.hash_behaviour.as_deref().filter(|h| !args::is_template(h)) {
            if h != "replace" {
                return Err(
                    ArgError::new(format!("`hash_behaviour: {h}` is not supported by zdd"))
                        .key("hash_behaviour")
                        .hint("zdd replaces variables as Ansible does by default: remove it"),
                );
            }
        }
        if let Some(pattern) = a.files_matching.as_deref().filter(|p| !args::is_template(p)) {
            regex::Regex::new(pattern).map_err(|e| {
                ArgError::new(format!("`files_matching` is not a regular expression: {e}"))
                    .key("files_matching")
            })?;
        }
        Ok(())
    }

    fn check_static(&self, _a: &Args, _raw: &Value, _ctx: &StaticCtx<'_>) -> Result<(), ArgError> {
        Ok(())
    }

    async fn run(&self, ctx: &ModuleCtx<'_>, a: Args) -> Result<ModuleResult, Failure> {
        let mut included: Vec<String> = Vec::new();
        let mut vars = VarMap::new();
        let outcome = match (&a.dir, a.file()) {
            (Some(dir), _) => self.read_dir(ctx, &a, dir, &mut vars, &mut included),
            (None, Some(file)) => match find_vars_file(file, ctx.role_path, ctx.task_dir, ctx.playbook_dir) {
                Ok(path) => load(&path).map(|loaded| {
                    included.push(path.display().to_string());
                    vars.extend(loaded);
                }),
                Err(looked) => Err(not_found(file, &looked)),
            },
            (None, None) => Err("`include_vars` needs a file or `dir`".into()),
        };
        let facts = match &a.name {
            Some(name) => VarMap::from([(name.clone(), json!(vars))]),
            None => vars,
        };
        let mut r = ModuleResult::ok();
        r.extra
            .insert("ansible_included_var_files".into(), json!(included));
        match outcome {
            Ok(()) => {
                r.extra.insert("ansible_facts".into(), json!(facts));
                r.facts = facts;
            }
            Err(message) => {
                r.failed = true;
                r.msg = Some(message.clone());
                r.extra.insert("message".into(), json!(message));
                r.extra.insert("ansible_facts".into(), json!({}));
            }
        }
        Ok(r)
    }
}

impl IncludeVars {
    /// `dir:`: relative to the role's `vars/` or the task's file, as Ansible's
    /// `_set_root_dir`; files filtered by `files_matching`, `ignore_files`, `extensions`.
    fn read_dir(
        &self,
        ctx: &ModuleCtx<'_>,
        a: &Args,
        dir: &str,
        vars: &mut VarMap,
        included: &mut Vec<String>,
    ) -> Result<(), String> {
        let base = match (ctx.role_path, Path::new(dir).is_absolute()) {
            (_, true) => PathBuf::from(dir),
            (Some(role), false) if dir.split('/').next() == Some("vars") => role.join(dir),
            (Some(role), false) => role.join("vars").join(dir),
            (None, false) => ctx
                .task_dir
                .filter(|d| !d.as_os_str().is_empty())
                .unwrap_or(ctx.playbook_dir)
                .join(dir),
        };
        let base = std::path::absolute(&base).unwrap_or(base);
        if !base.exists() {
            return Err(format!("{} directory does not exist", base.display()));
        }
        if !base.is_dir() {
            return Err(format!("{} is not a directory", base.display()));
        }
        let matcher = match &a.files_matching {
            Some(p) => Some(regex::Regex::new(p).map_err(|e| format!("Invalid regular expression: {e}"))?),
            None => None,
        };
        let ignore: Vec<regex::Regex> = a
            .ignore_files
            .iter()
            .flatten()
            .map(|p| {
                regex::Regex::new(&format!("{p}$")).map_err(|_| format!("Invalid regular expression: {p}"))
            })
            .collect::<Result<_, _>>()?;
        let extensions: Vec<String> = a
            .extensions
            .clone()
            .unwrap_or_else(|| EXTENSIONS.iter().map(|e| e.to_string()).collect());
        let depth = a.depth.map_or(0, |d| d.max(0.0) as usize);
        for (path, name) in dir_files(&base, depth) {
            // A role's own vars/main.yml is loaded with the role, never again here.
            if ctx
                .role_path
                .is_some_and(|r| path == r.join("vars").join("main.yml"))
            {
                continue;
            }
            if matcher.as_ref().is_some_and(|m| !m.is_match(&name))
                || ignore.iter().any(|r| r.is_match(&name))
            {
                continue;
            }
            let ext = Path::new(&name)
                .extension()
                .map(|e| e.to_string_lossy().into_owned());
            let valid = ext.is_some_and(|e| extensions.contains(&e));
            if !valid {
                if a.ignore_unknown_extensions == Some(true) {
                    continue;
                }
                return Err(format!(
                    "{} does not have a valid extension: {}",
                    path.display(),
                    extensions.join(", ")
                ));
            }
            vars.extend(load(&path)?);
            included.push(path.display().to_string());
        }
        Ok(())
    }
}

/// Ansible's message for a vars file it cannot find.
fn not_found(file: &str, looked: &[PathBuf]) -> String {
    let places: Vec<String> = looked.iter().map(|p| format!("\t{}", p.display())).collect();
    format!(
        "Could not find or access '{file}'\nSearched in:\n{} on the Ansible Controller.\n\
         If you are using a module and expect the file to exist on the remote, see the remote_src option",
        places.join("\n")
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn dir_with(files: &[(&str, &str)]) -> tempfile::TempDir {
        let d = tempfile::tempdir().unwrap();
        for (name, text) in files {
            let p = d.path().join(name);
            std::fs::create_dir_all(p.parent().unwrap()).unwrap();
            std::fs::write(p, text).unwrap();
        }
        d
    }

    #[test]
    fn a_vars_file_is_found_under_vars_first() {
        let d = dir_with(&[("vars/app.yml", "a: 1\n"), ("app.yml", "a: 2\n")]);
        let found = find_vars_file("app.yml", None, None, d.path()).unwrap();
        assert!(found.ends_with("vars/app.yml"));
        let looked = find_vars_file("nope.yml", None, None, d.path()).unwrap_err();
        assert_eq!(looked.len(), 2);
        assert_eq!(load(&found).unwrap().get("a"), Some(&json!(1)));
    }

    #[test]
    fn a_directory_is_read_in_sorted_order_down_to_depth() {
        let d = dir_with(&[
            ("b.yml", ""),
            ("a.yml", ""),
            ("sub/c.yml", ""),
            ("sub/deeper/d.yml", ""),
        ]);
        let names =
            |depth| -> Vec<String> { dir_files(d.path(), depth).into_iter().map(|(_, n)| n).collect() };
        assert_eq!(names(1), ["a.yml", "b.yml"]);
        assert_eq!(names(2), ["a.yml", "b.yml", "c.yml"]);
        assert_eq!(names(0), ["a.yml", "b.yml", "c.yml", "d.yml"]);
    }

    #[test]
    fn file_and_dir_options_do_not_mix() {
        let a: Args = args::parse("include_vars", &json!({"file": "a.yml", "depth": 1})).unwrap();
        let err = IncludeVars.check(&a, &Value::Null).unwrap_err();
        assert!(err.message.contains("mixing file only and dir only"));
    }
}
