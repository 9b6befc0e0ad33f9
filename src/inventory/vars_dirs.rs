//! `group_vars/` and `host_vars/` beside the inventory, found as Ansible's
//! `host_group_vars` plugin finds them.

use super::{Inventory, LOCALHOST_NAMES};
use crate::error::Error;
use crate::parse::load_vars_file;
use crate::vars::VarMap;
use std::path::{Path, PathBuf};

const EXTENSIONS: [&str; 3] = [".yml", ".yaml", ".json"];

/// Which `group_vars/` and `host_vars/`: beside the inventory, or beside the playbook.
#[derive(Clone, Copy, PartialEq)]
pub(super) enum Beside {
    Inventory,
    Playbook,
}

/// Load `dir/group_vars/*` for every group and `dir/host_vars/*` for every host.
pub(super) fn load(inv: &mut Inventory, dir: &Path, beside: Beside) -> Result<(), Error> {
    let mut problems = Vec::new();
    let mut load_for = |base: PathBuf, name: &str| -> Option<VarMap> {
        let files = vars_files(&base, name);
        if files.is_empty() {
            return None;
        }
        let mut merged = VarMap::new();
        for f in files {
            match load_vars_file(&f) {
                Ok(vars) => merged.extend(vars),
                Err(Error::Invalid(d)) => problems.extend(d),
                Err(e) => problems.push(crate::error::Diagnostic::new(format!(
                    "cannot read {}: {e}",
                    f.display()
                ))),
            }
        }
        Some(merged)
    };
    let groups: Vec<String> = inv.groups.keys().cloned().collect();
    for g in groups {
        if let Some(vars) = load_for(dir.join("group_vars"), &g) {
            let level = match beside {
                Beside::Inventory => &mut inv.group_vars_files,
                Beside::Playbook => &mut inv.playbook_group_vars_files,
            };
            // Several inventory sources: a later source's file wins key by key.
            level.entry(g).or_default().extend(vars);
        }
    }
    let hosts: Vec<String> = inv
        .hosts
        .keys()
        .cloned()
        .chain(LOCALHOST_NAMES.iter().map(|s| s.to_string()))
        .collect();
    for h in hosts {
        if let Some(vars) = load_for(dir.join("host_vars"), &h) {
            let level = match beside {
                Beside::Inventory => &mut inv.host_vars_files,
                Beside::Playbook => &mut inv.playbook_host_vars_files,
            };
            level.entry(h).or_default().extend(vars);
        }
    }
    if problems.is_empty() {
        Ok(())
    } else {
        Err(Error::Invalid(problems))
    }
}

/// `NAME`, `NAME.yml`, `NAME.yaml`, `NAME.json`: the first that exists; a directory
/// gives all its vars files, sorted, subdirectories included.
fn vars_files(base: &Path, name: &str) -> Vec<PathBuf> {
    let candidates = std::iter::once(base.join(name))
        .chain(EXTENSIONS.iter().map(|ext| base.join(format!("{name}{ext}"))));
    for path in candidates {
        if path.is_dir() {
            let mut found = Vec::new();
            dir_files(&path, &mut found);
            return found;
        }
        if path.is_file() {
            return vec![path];
        }
    }
    Vec::new()
}

fn dir_files(dir: &Path, found: &mut Vec<PathBuf>) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    let mut names: Vec<_> = entries.flatten().map(|e| e.file_name()).collect();
    names.sort();
    for name in names {
        let Some(s) = name.to_str() else { continue };
        if s.starts_with('.') || s.ends_with('~') {
            continue; // hidden files and editor backups
        }
        let path = dir.join(s);
        let ext = Path::new(s).extension().and_then(|e| e.to_str());
        if path.is_dir() && ext.is_none() {
            dir_files(&path, found);
        } else if path.is_file() && ext.is_none_or(|e| EXTENSIONS.contains(&format!(".{e}").as_str())) {
            found.push(path);
        }
    }
}
