//! The lookups behind `with_fileglob`, `with_first_found` and `with_lines`: they read the
//! controller (files beside the playbook, a command's output), never a target.

use crate::template::glob_files;
use serde_json::{json, Value};
use std::path::{Path, PathBuf};

/// Where the file lookups look: the task's `ansible_search_path` (its role, the folder of
/// its file, the playbook's folder), the playbook's folder last of all.
pub(super) struct SearchPath {
    pub paths: Vec<PathBuf>,
    pub base: PathBuf,
    pub in_role: bool,
}

impl SearchPath {
    #[cfg(test)]
    fn at(dir: &Path) -> Self {
        SearchPath {
            paths: vec![dir.to_owned()],
            base: dir.to_owned(),
            in_role: false,
        }
    }
}

/// The first of Ansible's candidates for `name` that exists (`P/SUBDIR/NAME`, then `P/NAME`,
/// for each search path `P`).
fn search(at: &SearchPath, subdir: &str, name: &str) -> Option<PathBuf> {
    let path = Path::new(name);
    if path.is_absolute() {
        return path.exists().then(|| path.to_owned());
    }
    crate::template::search_candidates(&at.paths, &at.base, subdir, name, at.in_role)
        .into_iter()
        .find(|p| p.exists())
}

/// `with_fileglob`: the files matching each pattern (a pattern with a folder: in that
/// folder, looked for in `files/` then beside the playbook; without: in `files/`, then
/// beside the playbook, the first that matches). Sorted, as a listing would be.
pub(super) fn fileglob(at: &SearchPath, patterns: &[Value]) -> Vec<Value> {
    let mut found = Vec::new();
    for pattern in patterns {
        let pattern = text(pattern);
        let (folder, file) = match pattern.rsplit_once('/') {
            Some((folder, file)) => (Some(if folder.is_empty() { "/" } else { folder }), file),
            None => (None, pattern.as_str()),
        };
        let places: Vec<PathBuf> = match folder {
            Some(folder) => search(at, "files", folder).into_iter().collect(),
            None => at
                .paths
                .iter()
                .flat_map(|p| [p.join("files"), p.clone()])
                .collect(),
        };
        for place in places {
            let mut matches = glob_files(&place, file);
            if !matches.is_empty() {
                matches.sort();
                found.extend(matches.into_iter().map(Value::String));
                break;
            }
        }
    }
    found
}

/// `with_first_found`: names (strings, lists, or `{files, paths, skip}` mappings; `,` and
/// `;` split names, `,`, `:` and `;` split paths), the first that exists, as one item.
pub(super) fn first_found(at: &SearchPath, subdir: &str, terms: &[Value]) -> Result<Vec<Value>, String> {
    let mut candidates = Vec::new();
    let mut skip = false;
    collect_candidates(terms, &mut candidates, &mut skip)?;
    for name in candidates {
        if let Some(path) = search(at, subdir, &name) {
            return Ok(vec![json!(path.display().to_string())]);
        }
    }
    if skip {
        return Ok(Vec::new());
    }
    Err("No file was found when using first_found.".into())
}

fn collect_candidates(terms: &[Value], out: &mut Vec<String>, skip: &mut bool) -> Result<(), String> {
    let split = |v: Option<&Value>, seps: &[char]| -> Vec<String> {
        let items = match v {
            Some(Value::Array(items)) => items.clone(),
            Some(Value::Null) | None => Vec::new(),
            Some(other) => vec![other.clone()],
        };
        items
            .iter()
            .flat_map(|i| {
                text(i)
                    .split(seps)
                    .map(str::trim)
                    .filter(|s| !s.is_empty())
                    .map(str::to_owned)
                    .collect::<Vec<_>>()
            })
            .collect()
    };
    for term in terms {
        match term {
            Value::String(name) => out.push(name.clone()),
            Value::Array(inner) => collect_candidates(inner, out, skip)?,
            Value::Object(options) => {
                if let Some(bad) = options
                    .keys()
                    .find(|k| !["files", "paths", "skip"].contains(&k.as_str()))
                {
                    return Err(format!(
                        "first_found: unknown option `{bad}` (it takes files, paths, skip)"
                    ));
                }
                *skip = options.get("skip").is_some_and(crate::vars::truthy);
                let files = split(options.get("files"), &[',', ';']);
                let paths = split(options.get("paths"), &[',', ':', ';']);
                if paths.is_empty() {
                    out.extend(files);
                } else {
                    for path in &paths {
                        out.extend(
                            files
                                .iter()
                                .map(|f| format!("{}/{f}", path.trim_end_matches('/'))),
                        );
                    }
                }
            }
            other => {
                return Err(format!(
                    "Invalid term supplied. A string, dict or list is required, not {other}."
                ))
            }
        }
    }
    Ok(())
}

/// `with_lines`: each command runs in a shell on the controller, in the playbook's folder;
/// each line it prints is an item. A command that fails fails the task.
pub(super) fn lines(dir: &Path, commands: &[Value]) -> Result<Vec<Value>, String> {
    let mut items = Vec::new();
    for command in commands {
        let command = text(command);
        let out = std::process::Command::new("sh")
            .arg("-c")
            .arg(&command)
            .current_dir(dir)
            .stdin(std::process::Stdio::null())
            .stderr(std::process::Stdio::inherit())
            .output()
            .map_err(|e| format!("lookup_plugin.lines({command}): {e}"))?;
        if !out.status.success() {
            return Err(format!(
                "lookup_plugin.lines({command}) returned {}",
                out.status.code().unwrap_or(-1)
            ));
        }
        let stdout = String::from_utf8_lossy(&out.stdout);
        items.extend(stdout.lines().map(|l| json!(l)));
    }
    Ok(items)
}

fn text(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::template::glob_match;

    #[test]
    fn globs_as_python_glob() {
        assert!(glob_match("*.conf", "a.conf"));
        assert!(!glob_match("*.conf", ".a.conf"));
        assert!(glob_match("web[0-9].?", "web3.x"));
        assert!(!glob_match("web[!0-9]", "web3"));
        assert!(!glob_match("*.conf", "a.conf.bak"));
    }

    #[test]
    fn first_found_tries_files_then_paths_and_skips() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir(dir.path().join("vars")).unwrap();
        std::fs::write(dir.path().join("vars/debian.yml"), "").unwrap();
        let terms = [json!({"files": ["redhat.yml", "debian.yml"], "paths": ["vars"]})];
        let found = first_found(&SearchPath::at(dir.path()), "vars", &terms).unwrap();
        assert_eq!(
            found,
            vec![json!(dir.path().join("vars/debian.yml").display().to_string())]
        );
        let found = first_found(&SearchPath::at(dir.path()), "vars", &[json!("debian.yml")]).unwrap();
        assert_eq!(found.len(), 1);
        let none = [json!({"files": ["x.yml"], "skip": true})];
        assert!(first_found(&SearchPath::at(dir.path()), "vars", &none)
            .unwrap()
            .is_empty());
        let err = first_found(&SearchPath::at(dir.path()), "vars", &[json!("x.yml")]).unwrap_err();
        assert_eq!(err, "No file was found when using first_found.");
    }
}
