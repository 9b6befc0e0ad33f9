//! `zdd config`: which Ansible configuration file is in force, and each setting zdd uses
//! with its value and where it came from (`file:line`, `env ANSIBLE_X`, `default`), like
//! `ansible-config dump` for zdd's settings. Connects to nothing.

use crate::cli::{ConfigArgs, OutputFormat};
use crate::config::{AnsibleConfig, Origin, Setting};
use crate::error::{display_path, exit, Error};
use serde_json::{json, Value};
use std::fmt::Write;
use std::path::{Path, PathBuf};

pub fn config(args: ConfigArgs) -> Result<i32, Error> {
    let config = AnsibleConfig::current()?;
    match args.output {
        OutputFormat::Human => print!("{}", render(config)),
        OutputFormat::Json => println!(
            "{}",
            serde_json::to_string_pretty(&to_json(config)).map_err(|e| Error::Internal(e.to_string()))?
        ),
    }
    Ok(exit::OK)
}

/// One line of the listing: `section.key`, the value (JSON), where it came from.
struct Shown {
    name: &'static str,
    value: Value,
    origin: String,
}

fn shown<T>(name: &'static str, setting: &Setting<T>, value: impl FnOnce(&T) -> Value) -> Shown {
    Shown {
        name,
        value: value(&setting.value),
        origin: match &setting.origin {
            Origin::Default => "default".into(),
            origin => origin.to_string(),
        },
    }
}

fn path(p: &Path) -> Value {
    json!(display_path(p))
}

fn paths(list: &[PathBuf]) -> Value {
    json!(list.iter().map(|p| display_path(p)).collect::<Vec<_>>())
}

fn settings(c: &AnsibleConfig) -> Vec<Shown> {
    let text = |v: &Option<String>| json!(v);
    let opt_path = |v: &Option<PathBuf>| v.as_deref().map(path).unwrap_or(Value::Null);
    vec![
        shown("defaults.inventory", &c.inventory, |v| paths(v)),
        shown("defaults.remote_user", &c.remote_user, text),
        shown("defaults.private_key_file", &c.private_key_file, opt_path),
        shown("defaults.host_key_checking", &c.host_key_checking, |v| json!(v)),
        shown("defaults.forks", &c.forks, |v| json!(v)),
        shown("defaults.roles_path", &c.roles_path, |v| paths(v)),
        shown("defaults.timeout", &c.timeout, |v| json!(v)),
        shown("defaults.vault_password_file", &c.vault_password_file, opt_path),
        shown("defaults.vault_identity_list", &c.vault_identity_list, |v| {
            json!(v)
        }),
        shown("defaults.gathering", &c.gathering, |v| json!(v.as_str())),
        shown("defaults.any_errors_fatal", &c.any_errors_fatal, |v| json!(v)),
        shown("defaults.log_path", &c.log_path, opt_path),
        shown("ssh_connection.ssh_args", &c.ssh_args, text),
        shown("ssh_connection.ssh_common_args", &c.ssh_common_args, |v| json!(v)),
        shown("ssh_connection.ssh_extra_args", &c.ssh_extra_args, |v| json!(v)),
        shown("ssh_connection.control_path_dir", &c.control_path_dir, opt_path),
        shown("ssh_connection.retries", &c.retries, |v| json!(v)),
        shown("privilege_escalation.become", &c.become_enabled, |v| json!(v)),
        shown("privilege_escalation.become_method", &c.become_method, |v| {
            json!(v)
        }),
        shown("privilege_escalation.become_user", &c.become_user, |v| json!(v)),
        shown("privilege_escalation.become_ask_pass", &c.become_ask_pass, |v| {
            json!(v)
        }),
    ]
}

/// A value as the listing shows it: lists comma-separated, unset as `-`.
fn display(value: &Value) -> String {
    match value {
        Value::Null => "-".into(),
        Value::String(s) if s.is_empty() => "\"\"".into(),
        // A value continued on several lines is one line here.
        Value::String(s) => s.split_whitespace().collect::<Vec<_>>().join(" "),
        Value::Array(items) if items.is_empty() => "[]".into(),
        Value::Array(items) => items.iter().map(display).collect::<Vec<_>>().join(", "),
        other => other.to_string(),
    }
}

fn render(c: &AnsibleConfig) -> String {
    let mut out = String::new();
    match &c.file {
        Some(file) => {
            let _ = writeln!(out, "Config file: {}", display_path(file));
        }
        None => out.push_str(
            "Config file: none (looked for $ANSIBLE_CONFIG, ./ansible.cfg, ~/.ansible.cfg, /etc/ansible/ansible.cfg)\n",
        ),
    }
    out.push('\n');
    let rows = settings(c);
    let name_width = rows.iter().map(|r| r.name.len()).max().unwrap_or(0);
    let values: Vec<String> = rows.iter().map(|r| display(&r.value)).collect();
    let value_width = values.iter().map(String::len).max().unwrap_or(0).min(40);
    for (row, value) in rows.iter().zip(&values) {
        let _ = writeln!(
            out,
            "{:name_width$} = {:value_width$}  ({})",
            row.name, value, row.origin
        );
    }
    for warning in &c.warnings {
        out.push('\n');
        out.push_str(&crate::config::render_warning(warning));
    }
    out
}

fn to_json(c: &AnsibleConfig) -> Value {
    let settings: Vec<Value> = settings(c)
        .into_iter()
        .map(|s| json!({"name": s.name, "value": s.value, "origin": s.origin}))
        .collect();
    let warnings: Vec<Value> = c
        .warnings
        .iter()
        .map(|w| {
            json!({
                "message": w.message,
                "location": w.location.as_ref().map(|l| format!("{}:{}", display_path(&l.file), l.line)),
            })
        })
        .collect();
    json!({
        "file": c.file.as_deref().map(path),
        "settings": settings,
        "warnings": warnings,
    })
}
