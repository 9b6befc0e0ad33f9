//! Executable inventory scripts, run as Ansible's `script` plugin runs them: `SCRIPT
//! --list` prints JSON, one key per group (`{"hosts": [...], "vars": {...}, "children":
//! [...]}`) and `_meta.hostvars` with every host's variables; without `_meta`, `SCRIPT
//! --host NAME` is asked for each host. Every failure names the script: its exit status and
//! standard error, or where its JSON is wrong.

use super::Inventory;
use crate::error::{Diagnostic, Error};
use crate::vars::VarMap;
use serde_json::{Map, Value};
use std::path::Path;
use std::process::{Command, Stdio};

/// Whether `path` is an inventory script: an executable file that is a program (`#!` or
/// an ELF binary). Ansible also tries an executable INI or YAML file as a script first,
/// fails to run it, then reads it as data; reading it as data straight away ends the same.
pub(super) fn is_script(path: &Path) -> bool {
    use std::io::Read;
    use std::os::unix::fs::PermissionsExt;
    let executable =
        std::fs::metadata(path).is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0);
    if !executable {
        return false;
    }
    let mut head = [0u8; 4];
    let n = std::fs::File::open(path)
        .and_then(|mut f| f.read(&mut head))
        .unwrap_or(0);
    head[..n].starts_with(b"#!") || head[..n] == *b"\x7fELF"
}

/// Run the script and read its inventory.
pub(super) fn load(path: &Path) -> Result<Inventory, Error> {
    let shown = path.display().to_string();
    let listing = run(path, &["--list"])?;
    let data: Value = parse_json(&listing, &format!("{shown} --list"))?;
    let Value::Object(top) = data else {
        return Err(invalid(
            format!(
                "inventory script {shown} --list printed {}, not a JSON object",
                kind(&data)
            ),
            "print an object with one key per group, and `_meta.hostvars`",
        ));
    };
    let mut inv = Inventory::default();
    let mut hosts: Vec<String> = Vec::new();
    let mut meta_hostvars: Option<Map<String, Value>> = None;
    for (group, gdata) in &top {
        if group == "_meta" {
            match gdata.get("hostvars") {
                Some(Value::Object(m)) => meta_hostvars = Some(m.clone()),
                other => {
                    return Err(invalid(
                        format!(
                            "inventory script {shown} --list: `_meta.hostvars` must be an object, found {}",
                            other.map_or("nothing", kind)
                        ),
                        "give `_meta` a `hostvars` object (`{}` when no host has variables)",
                    ))
                }
            }
            continue;
        }
        parse_group(&mut inv, &mut hosts, group, gdata).map_err(|why| {
            invalid(
                format!("inventory script {shown} --list: {why}"),
                "a group is `{\"hosts\": [\"web1\"], \"vars\": {...}, \"children\": [\"web\"]}`",
            )
        })?;
    }
    for host in &hosts {
        let vars = match &meta_hostvars {
            Some(all) => all.get(host).cloned().unwrap_or(Value::Object(Map::new())),
            None => {
                let what = format!("{shown} --host {host}");
                let out = run(path, &["--host", host])?;
                if out.trim().is_empty() {
                    Value::Object(Map::new())
                } else {
                    parse_json(&out, &what)?
                }
            }
        };
        let Value::Object(vars) = vars else {
            return Err(invalid(
                format!(
                    "inventory script {shown}: the variables of host `{host}` are {}, not an object",
                    kind(&vars)
                ),
                "give each host an object of variables",
            ));
        };
        inv.ensure_host(host, None).vars.extend(vars);
    }
    for h in inv.hosts.values_mut() {
        h.source = Some(shown.clone());
    }
    inv.reconcile();
    Ok(inv)
}

/// One group of `--list`, normalised as Ansible normalises it: a list is its hosts, an
/// object with none of `hosts`/`vars`/`children` is a lone host of that name with those
/// variables.
fn parse_group(
    inv: &mut Inventory,
    hosts: &mut Vec<String>,
    group: &str,
    data: &Value,
) -> Result<(), String> {
    inv.ensure_group(group, None);
    let owned;
    let data = match data {
        Value::Object(m) if ["hosts", "vars", "children"].iter().any(|k| m.contains_key(*k)) => m,
        Value::Object(m) => {
            owned = Map::from_iter([
                ("hosts".to_owned(), Value::from(vec![group])),
                ("vars".to_owned(), Value::Object(m.clone())),
            ]);
            &owned
        }
        other => {
            owned = Map::from_iter([("hosts".to_owned(), other.clone())]);
            &owned
        }
    };
    if let Some(list) = data.get("hosts") {
        let Value::Array(list) = list else {
            return Err(format!("`{group}.hosts` must be a list, found {}", kind(list)));
        };
        for h in list {
            let Value::String(h) = h else {
                return Err(format!("`{group}.hosts` holds {}, not a host name", kind(h)));
            };
            if h.is_empty() {
                return Err(format!("`{group}.hosts` holds an empty host name"));
            }
            if !hosts.contains(h) {
                hosts.push(h.clone());
            }
            inv.add_host_to_group(h, group, None);
        }
    }
    if let Some(vars) = data.get("vars") {
        let Value::Object(vars) = vars else {
            return Err(format!("`{group}.vars` must be an object, found {}", kind(vars)));
        };
        let vars: VarMap = vars.iter().map(|(k, v)| (k.clone(), v.clone())).collect();
        inv.ensure_group(group, None).vars.extend(vars);
    }
    if let Some(children) = data.get("children") {
        let Value::Array(children) = children else {
            return Err(format!(
                "`{group}.children` must be a list, found {}",
                kind(children)
            ));
        };
        for child in children {
            let Value::String(child) = child else {
                return Err(format!(
                    "`{group}.children` holds {}, not a group name",
                    kind(child)
                ));
            };
            inv.add_child(group, child)?;
        }
    }
    Ok(())
}

/// The script's standard output; a script that cannot start, fails or prints something
/// other than UTF-8 is an error naming it, with its standard error.
fn run(path: &Path, args: &[&str]) -> Result<String, Error> {
    let command = format!("{} {}", path.display(), args.join(" "));
    // A relative path would be looked up in PATH.
    let program = std::path::absolute(path).unwrap_or_else(|_| path.to_owned());
    let out = Command::new(&program)
        .args(args)
        .stdin(Stdio::null())
        .output()
        .map_err(|e| {
            invalid(
                format!("cannot run inventory script {command}: {e}"),
                "check its `#!` line and that the interpreter it names is installed",
            )
        })?;
    let stderr = String::from_utf8_lossy(&out.stderr);
    let stderr = stderr.trim_end();
    if !out.status.success() {
        let status = match out.status.code() {
            Some(rc) => format!("exited with status {rc}"),
            None => "was killed by a signal".to_owned(),
        };
        let mut message = format!("inventory script {command} {status}");
        if !stderr.is_empty() {
            message.push_str(&format!("; its standard error:\n{}", tail(stderr)));
        }
        return Err(invalid(
            message,
            "run it by hand to see why; it must print JSON and exit 0",
        ));
    }
    String::from_utf8(out.stdout).map_err(|e| {
        invalid(
            format!(
                "inventory script {command} printed bytes that are not UTF-8 (at byte {})",
                e.utf8_error().valid_up_to()
            ),
            "inventories are UTF-8 text",
        )
    })
}

/// The output as JSON; the error says where in the output it is wrong, without showing
/// the output (it may hold secrets).
fn parse_json(text: &str, what: &str) -> Result<Value, Error> {
    serde_json::from_str(text).map_err(|e| {
        let why = e.to_string();
        let why = why.split(" at line ").next().unwrap_or(&why);
        invalid(
            format!(
                "inventory script {what} printed invalid JSON: {why} at line {} column {} of its output",
                e.line(),
                e.column()
            ),
            "the script must print one JSON object on standard output (messages go to standard error)",
        )
    })
}

/// The last lines of a long standard error.
fn tail(stderr: &str) -> String {
    const KEEP: usize = 20;
    let lines: Vec<&str> = stderr.lines().collect();
    let shown = &lines[lines.len().saturating_sub(KEEP)..];
    let mut out = String::new();
    if lines.len() > KEEP {
        out.push_str(&format!("  ... ({} earlier lines)\n", lines.len() - KEEP));
    }
    out.push_str(
        &shown
            .iter()
            .map(|l| format!("  {l}"))
            .collect::<Vec<_>>()
            .join("\n"),
    );
    out
}

fn invalid(message: String, hint: &str) -> Error {
    Error::invalid(Diagnostic::new(message).hint(hint))
}

fn kind(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "a list",
        Value::Object(_) => "an object",
    }
}
