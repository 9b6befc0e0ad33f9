//! Inventory sources, as `-i` (repeatable) names them: an INI or YAML file, an executable
//! inventory script, a directory of any of these, or a host list (`web1,web2,`). Several
//! sources merge into one inventory as Ansible merges them (a host or group met again gets
//! the later source's variables over the earlier's), and each source's `group_vars/` and
//! `host_vars/` (beside a file, inside a directory) are read once every source is in.
//!
//! Unlike Ansible, which warns about a source it cannot read and carries on with the
//! rest, zdd stops: a rollout over part of the fleet is worse than no rollout.

use super::{host_list, ini, script, vars_dirs, yaml, Inventory};
use crate::error::{Diagnostic, Error, Location};
use std::path::{Path, PathBuf};
use std::sync::Arc;

/// Names a directory source skips, as Ansible's `INVENTORY_IGNORE_EXTS` (its default) and
/// its fixed patterns do: hidden files, backups, docs, retry files, the vars directories.
const IGNORED_SUFFIXES: [&str; 12] = [
    ".pyc", ".pyo", ".swp", ".bak", "~", ".rpm", ".md", ".txt", ".rst", ".orig", ".cfg", ".retry",
];
const IGNORED_NAMES: [&str; 3] = ["host_vars", "group_vars", "vars_plugins"];

/// What a source is.
#[derive(Debug, PartialEq)]
enum Kind {
    HostList,
    Directory,
    Script,
    Yaml,
    Ini,
}

/// Load and merge `sources` in order; no source at all is Ansible's implicit localhost.
pub(super) fn load(sources: &[String]) -> Result<Inventory, Error> {
    let mut inv = Inventory::default();
    let mut problems = Vec::new();
    for source in sources {
        let known: Vec<String> = inv.groups.keys().cloned().collect();
        match load_one(source, &known) {
            Ok(part) => {
                if let Err(why) = merge(&mut inv, part) {
                    problems.push(Diagnostic::new(format!("inventory {source}: {why}")).hint(
                        "a group cannot contain itself, directly or through its children, across sources either",
                    ));
                }
            }
            Err(Error::Invalid(d)) => problems.extend(d),
            Err(e) => problems.push(Diagnostic::new(e.to_string())),
        }
    }
    if !problems.is_empty() {
        return Err(Error::Invalid(problems));
    }
    inv.reconcile();
    for source in sources {
        if let Some(dir) = vars_dir_of(source) {
            vars_dirs::load(&mut inv, &dir, vars_dirs::Beside::Inventory)?;
        }
    }
    Ok(inv)
}

/// Where a source's `group_vars/` and `host_vars/` are: inside a directory, beside a file,
/// nowhere for a host list.
fn vars_dir_of(source: &str) -> Option<PathBuf> {
    if host_list::is_host_list(source) {
        return None;
    }
    let path = Path::new(source);
    if path.is_dir() {
        return Some(path.to_owned());
    }
    match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => Some(p.to_owned()),
        _ => Some(PathBuf::from(".")),
    }
}

/// One source; `known` are the groups of the sources read before it.
fn load_one(source: &str, known: &[String]) -> Result<Inventory, Error> {
    let path = Path::new(source);
    match kind_of(source)? {
        Kind::HostList => {
            let mut inv = Inventory::default();
            host_list::parse_into(&mut inv, source);
            inv.reconcile();
            Ok(inv)
        }
        Kind::Directory => load_dir(path, known),
        Kind::Script => script::load(path),
        Kind::Yaml | Kind::Ini => load_file(path, known),
    }
}

fn kind_of(source: &str) -> Result<Kind, Error> {
    if host_list::is_host_list(source) {
        return Ok(Kind::HostList);
    }
    let path = Path::new(source);
    match std::fs::metadata(path) {
        Ok(m) if m.is_dir() => Ok(Kind::Directory),
        Ok(_) if script::is_script(path) => Ok(Kind::Script),
        Ok(_) => Ok(file_kind(path, None)),
        Err(e) => {
            let looks_like_file = source.contains('/')
                || matches!(
                    path.extension().and_then(|e| e.to_str()),
                    Some("ini" | "yml" | "yaml" | "json" | "cfg" | "sh" | "py")
                );
            let hint = if looks_like_file {
                "pass an inventory file, directory or script with `-i`, or a host list such as `-i 'web1,web2,'`".to_owned()
            } else {
                format!("pass an inventory file, directory or script with `-i`; a single host is a host list with a trailing comma: `-i '{source},'`")
            };
            Err(Error::invalid(
                Diagnostic::new(format!("cannot read inventory {source}: {e}")).hint(hint),
            ))
        }
    }
}

/// YAML for `.yml`, `.yaml` and `.json`; for a file without an extension, YAML when it is
/// a mapping of groups (Ansible tries its YAML plugin first on those); INI otherwise.
fn file_kind(path: &Path, text: Option<&str>) -> Kind {
    match path.extension().and_then(|e| e.to_str()) {
        Some("yml" | "yaml" | "json") => Kind::Yaml,
        Some(_) => Kind::Ini,
        None => match text {
            Some(text) if looks_like_yaml_groups(path, text) => Kind::Yaml,
            _ => Kind::Ini,
        },
    }
}

fn looks_like_yaml_groups(path: &Path, text: &str) -> bool {
    let Ok(node) = crate::yaml::Source::new(path, text).parse(crate::yaml::TopLevel::Mapping) else {
        return false;
    };
    node.as_mapping().is_some_and(|m| {
        !m.is_empty()
            && m.values()
                .all(|v| v.as_mapping().is_some() || crate::yaml::to_value(v).is_null())
    })
}

/// An INI or YAML file, with the source it came from recorded on each host.
fn load_file(path: &Path, known: &[String]) -> Result<Inventory, Error> {
    let text = crate::yaml::read_bounded(path).map_err(|e| {
        let hint = if e.kind() == std::io::ErrorKind::FileTooLarge {
            "split it: move variables to `group_vars/` and `host_vars/`"
        } else {
            "pass an existing inventory file with `-i`"
        };
        Error::invalid(Diagnostic::new(format!("cannot read inventory {}: {e}", path.display())).hint(hint))
    })?;
    // A vaulted inventory file, as Ansible reads it.
    let (text, _) = crate::vault::open_text(text).map_err(|e| {
        Error::invalid(Diagnostic::new(e.message(&format!("inventory `{}`", path.display()))).hint(e.hint()))
    })?;
    if text.starts_with("#!") {
        return Err(Error::invalid(
            Diagnostic::new(format!(
                "{} looks like an inventory script, but it is not executable",
                path.display()
            ))
            .at(Location::new(Arc::new(path.to_owned()), 1, 1))
            .snippet(text.lines().next().unwrap_or_default())
            .hint(format!("make it executable: chmod +x {}", path.display())),
        ));
    }
    let mut inv =
        match file_kind(path, Some(&text)) {
            Kind::Yaml => {
                refuse_plugin_config(path, &text)?;
                yaml::parse(path, &text)?
            }
            _ if path.extension().is_some_and(|e| e == "toml") => return Err(Error::invalid(
                Diagnostic::new(format!("{}: TOML inventories are not supported", path.display()))
                    .at(Location::new(Arc::new(path.to_owned()), 1, 1))
                    .hint(
                        "write it as INI or YAML (`ansible-inventory -i FILE --list --yaml` prints the YAML)",
                    ),
            )),
            _ => ini::parse(path, &text, known)?,
        };
    let source = std::path::absolute(path).unwrap_or_else(|_| path.to_owned());
    for h in inv.hosts.values_mut() {
        h.source = Some(source.display().to_string());
    }
    inv.reconcile();
    Ok(inv)
}

/// A YAML file with a top-level `plugin:` configures an inventory plugin (`constructed`,
/// `aws_ec2`, ...), which zdd does not run.
fn refuse_plugin_config(path: &Path, text: &str) -> Result<(), Error> {
    let src = crate::yaml::Source::new(path, text);
    let Ok(node) = src.parse(crate::yaml::TopLevel::Mapping) else {
        return Ok(()); // the YAML loader reports it
    };
    let Some((key, value)) = node
        .as_mapping()
        .and_then(|m| m.iter().find(|(k, _)| k.as_str() == "plugin"))
    else {
        return Ok(());
    };
    let name = crate::yaml::to_value(value);
    // As Ansible: an empty `plugin:` is a group of that name.
    if name.is_null() || name == "" {
        return Ok(());
    }
    let name = name.as_str().map_or_else(|| name.to_string(), str::to_owned);
    Err(Error::invalid(
        src.diag(
            format!(
                "{} configures the inventory plugin `{name}`; zdd does not run inventory plugins",
                path.display()
            ),
            src.span_location(key.span()),
        )
        .hint(format!(
            "zdd reads INI and YAML inventories, scripts, directories and host lists; make a script that runs `ansible-inventory -i {} --list` and pass that script with `-i`",
            path.display()
        )),
    ))
}

/// Every entry of a directory, sorted by name, as its own source (subdirectories too),
/// skipping what Ansible skips.
fn load_dir(dir: &Path, known: &[String]) -> Result<Inventory, Error> {
    let entries = std::fs::read_dir(dir).map_err(|e| {
        Error::invalid(Diagnostic::new(format!(
            "cannot read inventory directory {}: {e}",
            dir.display()
        )))
    })?;
    let mut names: Vec<String> = entries
        .flatten()
        .filter_map(|e| e.file_name().to_str().map(str::to_owned))
        .collect();
    names.sort();
    let mut inv = Inventory::default();
    let mut problems = Vec::new();
    for name in names.iter().filter(|n| !ignored(n)) {
        let path = dir.join(name);
        let Some(source) = path.to_str() else { continue };
        let mut known_here = known.to_vec();
        known_here.extend(inv.groups.keys().cloned());
        match load_one(source, &known_here).and_then(|part| {
            merge(&mut inv, part)
                .map_err(|why| Error::invalid(Diagnostic::new(format!("inventory {source}: {why}"))))
        }) {
            Ok(()) => {}
            Err(Error::Invalid(d)) => problems.extend(d),
            Err(e) => problems.push(Diagnostic::new(e.to_string())),
        }
    }
    if problems.is_empty() {
        Ok(inv)
    } else {
        Err(Error::Invalid(problems))
    }
}

fn ignored(name: &str) -> bool {
    name.starts_with('.')
        || IGNORED_NAMES.contains(&name)
        || IGNORED_SUFFIXES.iter().any(|s| name.ends_with(s))
}

/// Add `from` to `into`: new hosts and groups after the known ones, variables of known ones
/// overridden key by key, memberships added. `Err` when a child link would close a loop.
fn merge(into: &mut Inventory, from: Inventory) -> Result<(), String> {
    for (name, host) in from.hosts {
        match into.hosts.get_mut(&name) {
            Some(known) => known.vars.extend(host.vars),
            None => {
                into.hosts.insert(name, host);
            }
        }
    }
    for (name, group) in from.groups {
        let g = into.ensure_group(&name, group.loc);
        g.vars.extend(group.vars);
        for h in group.hosts {
            if !g.hosts.contains(&h) {
                g.hosts.push(h);
            }
        }
        for child in group.children {
            into.add_child(&name, &child)?;
        }
    }
    Ok(())
}

#[cfg(test)]
#[path = "sources_tests.rs"]
mod tests;
