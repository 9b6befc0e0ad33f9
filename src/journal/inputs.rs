//! What a run was given (its `-e` values, limit, tags, who ran it, which zdd), the colors
//! it switched, and the earlier runs of the same journal: what `zdd rollback` re-runs and
//! `zdd status` shows.
//!
//! Secrets stay out: a `-e @file` that is vaulted, or holds a `!vault` value, is recorded as
//! a reference to the file (its path and the SHA-256 of its encrypted bytes), never its
//! values; a plain `-e @file` with a secret-looking key (`db_password`, `api_token`: the
//! names `zdd`'s command-line censoring uses) is recorded the same way, as a reference; an
//! inline `-e` that holds a vault secret or a secret-looking key is withheld.

use super::{absolute, sha256_hex, RunState};
use crate::vars::VarMap;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use std::path::{Path, PathBuf};

/// How many earlier runs a journal keeps.
pub const HISTORY: usize = 20;

/// A run's inputs, as `zdd rollback` replays them.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct RunInputs {
    /// Each `-e` in the order given (later ones win, as they did).
    pub extra_vars: Vec<ExtraVarsInput>,
    pub limit: Option<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub tags: Vec<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub skip_tags: Vec<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub start_at_task: Option<String>,
    /// `--check`: changed nothing, so never a run to roll back to.
    #[serde(default)]
    pub check: bool,
    /// The zdd that ran it.
    pub zdd_version: String,
    /// Who ran it (the login name of the controller's user).
    pub user: String,
    /// Set on a run `zdd rollback` started.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rollback: Option<RollbackMark>,
}

/// What a `zdd rollback` run undid and what it went back to.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct RollbackMark {
    /// When the run it undid started.
    pub of: String,
    /// When the run whose inputs it re-ran started.
    pub to: String,
    /// The color it switched back to (blue/green), passed as `-e zdd_rollback_to=COLOR`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub color: Option<String>,
}

/// One `-e`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum ExtraVarsInput {
    /// `-e k=v` or `-e '{...}'`, as typed.
    Text { text: String },
    /// `-e @file` of plain variables: their values at the time of the run.
    File { file: PathBuf, vars: VarMap },
    /// `-e @file` that is vaulted or holds `!vault` values: the file, never its values.
    VaultedFile { file: PathBuf, sha256: String },
    /// `-e @file` of plain variables, one of them secret-looking: the file, never its values.
    SecretFile { file: PathBuf, sha256: String },
    /// An inline `-e` that holds a vault secret or a secret-looking key: not recorded.
    Withheld,
}

impl ExtraVarsInput {
    /// What a run is given to replay it (`-e` arguments); `None` for a withheld one.
    pub fn replay(&self) -> Option<String> {
        match self {
            ExtraVarsInput::Text { text } => Some(text.clone()),
            ExtraVarsInput::File { vars, .. } => serde_json::to_string(vars).ok(),
            ExtraVarsInput::VaultedFile { file, .. } | ExtraVarsInput::SecretFile { file, .. } => {
                Some(format!("@{}", file.display()))
            }
            ExtraVarsInput::Withheld => None,
        }
    }

    /// For people: `version=2`, `@/srv/vars.yml (version=2)`, `@/srv/secrets.yml (vaulted)`.
    pub fn describe(&self) -> String {
        match self {
            ExtraVarsInput::Text { text } => text.clone(),
            ExtraVarsInput::File { file, vars } => {
                let values: Vec<String> = vars.iter().map(|(k, v)| format!("{k}={}", short(v))).collect();
                format!("@{} ({})", file.display(), values.join(" "))
            }
            ExtraVarsInput::VaultedFile { file, .. } => format!("@{} (vaulted)", file.display()),
            ExtraVarsInput::SecretFile { file, .. } => {
                format!("@{} (secret-looking values, not recorded)", file.display())
            }
            ExtraVarsInput::Withheld => "(withheld: it holds a secret)".into(),
        }
    }
}

fn short(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

/// Record `-e` arguments as given. Run after loading, when the vault's secrets are known:
/// a file's values are re-read here (the load just read it, so it reads the same).
pub fn record_extra_vars(args: &[String]) -> Vec<ExtraVarsInput> {
    args.iter().map(|arg| record_one(arg)).collect()
}

fn record_one(arg: &str) -> ExtraVarsInput {
    let trimmed = arg.trim();
    let Some(file) = trimmed.strip_prefix('@') else {
        return if crate::vault::reveals_str(arg) || crate::run_info::names_a_secret(arg) {
            ExtraVarsInput::Withheld
        } else {
            ExtraVarsInput::Text { text: arg.to_owned() }
        };
    };
    let path = Path::new(file);
    let bytes = std::fs::read(path).unwrap_or_default();
    let text = String::from_utf8_lossy(&bytes);
    let reference = || ExtraVarsInput::VaultedFile {
        file: absolute(path),
        sha256: sha256_hex(&bytes),
    };
    if crate::vault::is_vaulted(&text) || text.contains("!vault") {
        return reference();
    }
    match crate::parse::parse_extra_vars(arg) {
        Ok(vars) if vars.values().any(crate::vault::reveals) => reference(),
        Ok(vars)
            if vars.iter().any(|(k, v)| {
                crate::run_info::is_secret_name(k) || crate::run_info::value_names_a_secret(v)
            }) =>
        {
            ExtraVarsInput::SecretFile {
                file: absolute(path),
                sha256: sha256_hex(&bytes),
            }
        }
        Ok(vars) => ExtraVarsInput::File {
            file: absolute(path),
            vars,
        },
        _ => reference(),
    }
}

/// The controller's user, for `who ran it`.
pub fn current_user() -> String {
    std::env::var("USER")
        .or_else(|_| std::env::var("LOGNAME"))
        .ok()
        .filter(|u| !u.is_empty())
        .or_else(|| {
            let uid = unsafe { libc::getuid() };
            let pw = unsafe { libc::getpwuid(uid) };
            (!pw.is_null()).then(|| {
                unsafe { std::ffi::CStr::from_ptr((*pw).pw_name) }
                    .to_string_lossy()
                    .into_owned()
            })
        })
        .unwrap_or_else(|| "unknown".into())
}

/// An upstream an `nginx_upstream` task switched from one color to another.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SwitchRecord {
    /// Where the task ran (its delegate, if any).
    pub host: String,
    pub path: String,
    pub upstream: String,
    pub from: Option<String>,
    pub to: String,
    pub at: String,
}

impl SwitchRecord {
    /// The switch an `nginx_upstream` result says it made; `None` for any other result,
    /// or one that changed no color. Known by its keys: `path`, `upstream`, `color`,
    /// `previous_color`, `servers`, `previous_servers`.
    pub fn from_result(host: &str, result: &Value, at: &str) -> Option<SwitchRecord> {
        let obj = result.as_object()?;
        let keys = [
            "path",
            "upstream",
            "color",
            "previous_color",
            "servers",
            "previous_servers",
        ];
        if !keys.iter().all(|k| obj.contains_key(*k)) || obj.get("changed") != Some(&Value::Bool(true)) {
            return None;
        }
        let to = obj.get("color")?.as_str()?.to_owned();
        let from = obj
            .get("previous_color")
            .and_then(Value::as_str)
            .map(str::to_owned);
        if from.as_deref() == Some(to.as_str()) {
            return None;
        }
        Some(SwitchRecord {
            host: host.to_owned(),
            path: obj.get("path")?.as_str()?.to_owned(),
            upstream: obj.get("upstream")?.as_str()?.to_owned(),
            from,
            to,
            at: at.to_owned(),
        })
    }
}

/// An earlier run of the same journal, as `zdd rollback` and `zdd status` need it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RunRecord {
    pub started: String,
    pub finished: Option<String>,
    pub state: RunState,
    pub exit_code: Option<i32>,
    pub playbook_sha256: String,
    /// `None` for a run journaled by a zdd that did not record inputs.
    pub inputs: Option<RunInputs>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub switches: Vec<SwitchRecord>,
    /// The zdd process that wrote it (to tell a run still going from a killed one).
    pub pid: u32,
}

impl RunRecord {
    /// A run that completed and changed something for real (not `--check`).
    pub fn succeeded(&self) -> bool {
        self.state == RunState::Completed && !self.is_check()
    }

    pub fn is_check(&self) -> bool {
        self.inputs.as_ref().is_some_and(|i| i.check)
    }

    /// Its inputs in one line: `-e version=2 -l web1 (rollback of the run started X)`.
    pub fn describe_inputs(&self) -> String {
        let Some(inputs) = &self.inputs else {
            return "not recorded (journaled by an older zdd)".into();
        };
        let mut parts: Vec<String> = inputs
            .extra_vars
            .iter()
            .map(|e| format!("-e {}", e.describe()))
            .collect();
        if let Some(limit) = &inputs.limit {
            parts.push(format!("-l {limit}"));
        }
        if !inputs.tags.is_empty() {
            parts.push(format!("-t {}", inputs.tags.join(",")));
        }
        if !inputs.skip_tags.is_empty() {
            parts.push(format!("--skip-tags {}", inputs.skip_tags.join(",")));
        }
        if let Some(task) = &inputs.start_at_task {
            parts.push(format!("--start-at-task '{task}'"));
        }
        if inputs.check {
            parts.push("--check".into());
        }
        if let Some(mark) = &inputs.rollback {
            let color = mark
                .color
                .as_ref()
                .map(|c| format!(", back to {c}"))
                .unwrap_or_default();
            parts.push(format!(
                "(rollback of the run started {} to the inputs of the run started {}{color})",
                mark.of, mark.to
            ));
        }
        if parts.is_empty() {
            "no -e, no limit".into()
        } else {
            parts.join(" ")
        }
    }
}

#[cfg(test)]
#[path = "inputs_tests.rs"]
mod tests;
