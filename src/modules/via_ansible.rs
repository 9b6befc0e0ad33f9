//! Every module zdd does not run natively (a custom module in the project's `library/`,
//! a collection module such as `community.docker.docker_container`) runs through the
//! user's own Ansible: one `ansible-playbook` invocation per task and batch, for the hosts
//! of the batch that reach the task.
//!
//! What zdd hands Ansible: a generated inventory holding each host's connection as zdd
//! resolved it (address, port, user, key, SSH arguments, become) and the task's arguments
//! as zdd rendered them, and a one-task playbook reading them. Every string is written
//! `!unsafe`, so Ansible takes the values literally and templates nothing again. Both
//! files sit in a 0700 temporary directory (0600 files): no argument or password reaches
//! a command line. zdd's own callback (`via_ansible_results.py`) writes each host's result
//! to a 0600 file and prints nothing; Ansible's output is dropped, so `no_log` results
//! stay with zdd, which censors them as it censors its own.
//!
//! Before any host is touched, [`describe`] asks `ansible-doc --json` once for all such
//! modules of the run, and [`check_args`] checks a task's arguments against what it says
//! (names, aliases, required, choices).

use super::{ArgError, ModuleResult};
use crate::error::did_you_mean;
use crate::host::{Become, ConnectSpec, HostError};
use serde_json::{json, Map, Value};
use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::path::{Path, PathBuf};
use std::sync::Mutex;

/// Names the `ansible-playbook` zdd runs (the executable, or the directory holding it);
/// without it, `ansible-playbook` is looked for on `PATH`.
pub const ENV_VAR: &str = "ZDD_ANSIBLE";

const CALLBACK: &str = include_str!("via_ansible_results.py");

/// The user's Ansible: `ansible-playbook` and `ansible-doc` beside it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Ansible {
    pub playbook: PathBuf,
    pub doc: PathBuf,
}

impl Ansible {
    /// `$ZDD_ANSIBLE`, else `ansible-playbook` on `PATH`; `None` when neither runs.
    pub fn find() -> Option<Ansible> {
        let playbook = match std::env::var_os(ENV_VAR) {
            Some(named) => {
                let named = PathBuf::from(named);
                if named.is_dir() {
                    named.join("ansible-playbook")
                } else {
                    named
                }
            }
            None => std::env::split_paths(&std::env::var_os("PATH")?)
                .map(|dir| dir.join("ansible-playbook"))
                .find(|p| p.is_file())?,
        };
        if !playbook.is_file() {
            return None;
        }
        let doc = playbook.with_file_name("ansible-doc");
        Some(Ansible { playbook, doc })
    }
}

/// What `ansible-doc` says about a module's options.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ModuleDoc {
    pub options: BTreeMap<String, OptionDoc>,
}

#[derive(Debug, Clone, Default, PartialEq)]
pub struct OptionDoc {
    pub required: bool,
    pub aliases: Vec<String>,
    pub choices: Vec<Value>,
}

/// What the run knows of a module zdd does not have.
#[derive(Debug, Clone, PartialEq)]
pub enum Foreign {
    /// Ansible has it and documents its options.
    Documented(ModuleDoc),
    /// A file of that name in a `library/` directory, without documentation Ansible reads.
    Library,
    /// Ansible does not know it.
    Missing,
    /// There is no Ansible to run it.
    NoAnsible,
}

/// Each module name resolved once per run, whichever command asks (`check`, `plan`, `apply`).
static DESCRIBED: Mutex<Option<HashMap<String, Foreign>>> = Mutex::new(None);

/// What Ansible says about each of `names`: one `ansible-doc` call for all of them (names
/// already asked about in this run are not asked again). `library` holds the `library/`
/// directories of the project and its roles.
pub fn describe(names: &BTreeSet<String>, library: &[PathBuf]) -> HashMap<String, Foreign> {
    let mut cache = DESCRIBED.lock().unwrap_or_else(|e| e.into_inner());
    let cache = cache.get_or_insert_with(HashMap::new);
    let ask: Vec<&String> = names.iter().filter(|n| !cache.contains_key(*n)).collect();
    if !ask.is_empty() {
        let found = match Ansible::find() {
            None => ask.iter().map(|n| ((*n).clone(), Foreign::NoAnsible)).collect(),
            Some(ansible) => ask_ansible_doc(&ansible, &ask, library),
        };
        cache.extend(found);
    }
    names
        .iter()
        .map(|n| (n.clone(), cache.get(n).cloned().unwrap_or(Foreign::Missing)))
        .collect()
}

fn ask_ansible_doc(ansible: &Ansible, names: &[&String], library: &[PathBuf]) -> HashMap<String, Foreign> {
    let output = std::process::Command::new(&ansible.doc)
        .args(["--json", "-t", "module"])
        .args(names)
        .env("ANSIBLE_LIBRARY", library_path(library))
        .stdin(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .output();
    let docs: Map<String, Value> = output
        .ok()
        .and_then(|o| serde_json::from_slice(&o.stdout).ok())
        .unwrap_or_default();
    names
        .iter()
        .map(|name| {
            // A short name comes back under its full one (`ini_file` ->
            // `community.general.ini_file`).
            let entry = docs.get(name.as_str()).or_else(|| {
                let suffix = format!(".{name}");
                docs.iter().find(|(k, _)| k.ends_with(&suffix)).map(|(_, v)| v)
            });
            let found = match entry {
                Some(entry) => Foreign::Documented(module_doc(entry)),
                None if in_library(name, library) => Foreign::Library,
                None => Foreign::Missing,
            };
            ((*name).clone(), found)
        })
        .collect()
}

/// `ansible-doc --json`'s entry for a module -> its options.
fn module_doc(entry: &Value) -> ModuleDoc {
    let options = entry["doc"]["options"].as_object().cloned().unwrap_or_default();
    let strings = |v: &Value| -> Vec<String> {
        v.as_array()
            .map(|a| a.iter().filter_map(|s| s.as_str().map(str::to_owned)).collect())
            .unwrap_or_default()
    };
    ModuleDoc {
        options: options
            .into_iter()
            .map(|(name, o)| {
                let doc = OptionDoc {
                    required: o["required"].as_bool().unwrap_or(false),
                    aliases: strings(&o["aliases"]),
                    choices: o["choices"].as_array().cloned().unwrap_or_default(),
                };
                (name, doc)
            })
            .collect(),
    }
}

fn in_library(name: &str, library: &[PathBuf]) -> bool {
    library.iter().any(|dir| {
        std::fs::read_dir(dir).into_iter().flatten().flatten().any(|e| {
            let path = e.path();
            path.is_file() && path.file_stem().is_some_and(|s| s == name)
        })
    })
}

/// `ANSIBLE_LIBRARY`: the project's and roles' `library/` directories before the user's own.
fn library_path(library: &[PathBuf]) -> std::ffi::OsString {
    let mut dirs: Vec<PathBuf> = library.iter().filter(|d| d.is_dir()).cloned().collect();
    if let Some(user) = std::env::var_os("ANSIBLE_LIBRARY") {
        dirs.extend(std::env::split_paths(&user));
    }
    std::env::join_paths(dirs).unwrap_or_default()
}

/// A task's arguments against the module's documented options: unknown names (with
/// "did you mean"), missing required ones, values outside `choices`. Templated values
/// are not known yet and pass.
pub fn check_args(module: &str, doc: &ModuleDoc, args: &Value) -> Vec<ArgError> {
    let Value::Object(args) = args else {
        return Vec::new();
    };
    let mut problems = Vec::new();
    let mut names: Vec<&str> = Vec::new();
    for (name, o) in &doc.options {
        names.push(name);
        names.extend(o.aliases.iter().map(String::as_str));
    }
    let option_of = |key: &str| {
        doc.options
            .iter()
            .find(|(name, o)| *name == key || o.aliases.iter().any(|a| a == key))
    };
    for (key, value) in args {
        // Free-form text (`_raw_params`) and Ansible's internal keys are the module's business.
        if key.starts_with('_') {
            continue;
        }
        let Some((_, option)) = option_of(key) else {
            let mut e = ArgError::new(format!(
                "`{module}` has no argument `{key}` (Ansible's documentation of the module)"
            ))
            .key(key);
            e.hint = did_you_mean(key, names.iter().copied());
            problems.push(e);
            continue;
        };
        if option.choices.is_empty() || is_templated(value) {
            continue;
        }
        let values: Vec<&Value> = match value {
            Value::Array(items) => items.iter().collect(),
            other => vec![other],
        };
        if let Some(bad) = values
            .into_iter()
            .find(|v| !option.choices.iter().any(|c| same_choice(c, v)))
        {
            let choices: Vec<String> = option.choices.iter().map(plain).collect();
            problems.push(
                ArgError::new(format!(
                    "`{key}` must be one of {}, got `{}`",
                    choices.join(", "),
                    plain(bad)
                ))
                .key(key),
            );
        }
    }
    for (name, option) in &doc.options {
        let given = args.contains_key(name) || option.aliases.iter().any(|a| args.contains_key(a));
        if option.required && !given {
            problems.push(ArgError::new(format!("`{module}` needs the argument `{name}`")));
        }
    }
    problems
}

/// A value matches a choice as Ansible's type conversion would make it: `"8"` is the
/// choice `8`, `8` is the choice `"8"`.
fn same_choice(choice: &Value, value: &Value) -> bool {
    match (choice, value) {
        (Value::String(c), Value::String(v)) => c == v,
        (Value::String(c), other) => {
            let other = other.to_string();
            *c == other
        }
        (c, Value::String(v)) => {
            let c = c.to_string();
            c == *v
        }
        (c, v) => c == v,
    }
}

fn plain(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

fn is_templated(v: &Value) -> bool {
    match v {
        Value::String(s) => s.contains("{{") || s.contains("{%"),
        Value::Array(items) => items.iter().any(is_templated),
        Value::Object(map) => map.values().any(is_templated),
        _ => false,
    }
}

/// The collection that holds a module, for the install hint: the namespace of a full
/// name, or, for a few short names people use, the collection they moved to.
pub fn collection_of(module: &str) -> Option<String> {
    let parts: Vec<&str> = module.split('.').collect();
    if parts.len() >= 3 {
        return Some(format!("{}.{}", parts[0], parts[1]));
    }
    const SHORT: &[(&str, &str)] = &[
        ("docker_", "community.docker"),
        ("mysql_", "community.mysql"),
        ("postgresql_", "community.postgresql"),
        ("rabbitmq_", "community.rabbitmq"),
        ("zabbix_", "community.zabbix"),
        ("ec2", "amazon.aws"),
        ("s3_", "amazon.aws"),
        ("k8s", "kubernetes.core"),
        ("helm", "kubernetes.core"),
        ("firewalld", "ansible.posix"),
        ("seboolean", "ansible.posix"),
        ("selinux", "ansible.posix"),
        ("synchronize", "ansible.posix"),
        ("mount", "ansible.posix"),
        ("authorized_key", "ansible.posix"),
        ("sysctl", "ansible.posix"),
        ("acl", "ansible.posix"),
        ("nagios", "community.general"),
        ("rax", "community.general"),
        ("ufw", "community.general"),
        ("npm", "community.general"),
        ("ini_file", "community.general"),
        ("archive", "community.general"),
        ("timezone", "community.general"),
        ("modprobe", "community.general"),
        ("make", "community.general"),
    ];
    SHORT
        .iter()
        .find(|(prefix, _)| module.starts_with(prefix))
        .map(|(_, c)| (*c).to_owned())
}

/// How to get a module zdd runs through Ansible.
pub fn install_hint(module: &str) -> String {
    match collection_of(module) {
        Some(c) => format!(
            "zdd runs it through Ansible, from the collection `{c}`: `pip install ansible-core && ansible-galaxy collection install {c}` (or set ${ENV_VAR} to your ansible-playbook)"
        ),
        None => format!(
            "zdd runs it through Ansible: `pip install ansible-core`, with the module in the project's `library/` (or set ${ENV_VAR} to your ansible-playbook)"
        ),
    }
}

/// One host's part of an invocation: its inventory name and the variables the generated
/// inventory gives it (connection, become, and `zdd_args`, `zdd_env`, `zdd_check`,
/// `zdd_diff` the task reads).
#[derive(Debug, Clone, PartialEq)]
pub struct HostEntry {
    pub host: String,
    pub vars: Map<String, Value>,
    /// The task is `no_log` here: Ansible's output is not quoted, and nothing goes to the
    /// targets' syslog.
    pub no_log: bool,
}

impl HostEntry {
    /// The entry for a task on a host reached as `spec`, `run_as`, with rendered `args`.
    pub fn new(
        host: &str,
        spec: &ConnectSpec,
        run_as: Option<&Become>,
        args: &Value,
        environment: &[(String, String)],
        modes: Modes,
    ) -> HostEntry {
        let mut vars = connection_vars(spec, run_as);
        vars.insert("zdd_args".into(), args.clone());
        let env: Map<String, Value> = environment.iter().map(|(k, v)| (k.clone(), json!(v))).collect();
        vars.insert("zdd_env".into(), Value::Object(env));
        vars.insert("zdd_check".into(), json!(modes.check));
        vars.insert("zdd_diff".into(), json!(modes.diff));
        HostEntry {
            host: host.to_owned(),
            vars,
            no_log: modes.no_log,
        }
    }
}

/// How the task runs on a host: `--check`/`check_mode`, `--diff`, `no_log`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Modes {
    pub check: bool,
    pub diff: bool,
    pub no_log: bool,
}

/// The inventory variables that make Ansible reach a host as zdd does.
pub fn connection_vars(spec: &ConnectSpec, run_as: Option<&Become>) -> Map<String, Value> {
    let mut vars = Map::new();
    if spec.local {
        vars.insert("ansible_connection".into(), json!("local"));
    } else {
        vars.insert("ansible_connection".into(), json!("ssh"));
        vars.insert("ansible_host".into(), json!(spec.address));
    }
    if let Some(port) = spec.port {
        vars.insert("ansible_port".into(), json!(port));
    }
    if let Some(user) = &spec.user {
        vars.insert("ansible_user".into(), json!(user));
    }
    if let Some(key) = &spec.private_key {
        vars.insert("ansible_ssh_private_key_file".into(), json!(key));
    }
    if !spec.base_args.is_empty() {
        vars.insert(
            "ansible_ssh_args".into(),
            json!(shell_words::join(&spec.base_args)),
        );
    }
    if !spec.ssh_args.is_empty() {
        vars.insert(
            "ansible_ssh_common_args".into(),
            json!(shell_words::join(&spec.ssh_args)),
        );
    }
    vars.insert("ansible_timeout".into(), json!(spec.timeout));
    vars.insert("ansible_host_key_checking".into(), json!(spec.host_key_checking));
    if let Some(password) = &spec.password {
        vars.insert("ansible_password".into(), json!(password.expose()));
    }
    match run_as {
        Some(b) => {
            vars.insert("ansible_become".into(), json!(true));
            vars.insert("ansible_become_user".into(), json!(b.user));
            vars.insert("ansible_become_method".into(), json!(b.method));
            if let Some(password) = &b.password {
                vars.insert("ansible_become_password".into(), json!(password.expose()));
            }
        }
        None => {
            vars.insert("ansible_become".into(), json!(false));
        }
    }
    vars
}

/// One task for a batch's hosts.
#[derive(Debug, Clone)]
pub struct Invocation {
    pub module: String,
    pub hosts: Vec<HostEntry>,
    /// The `library/` directories of the project and the task's role.
    pub library: Vec<PathBuf>,
    /// Hosts Ansible runs at once (`--forks`, `throttle`).
    pub forks: usize,
    /// Where Ansible runs (the playbook's directory: relative paths read the same).
    pub dir: PathBuf,
}

/// A host's result as Ansible reported it: `ok`, `failed`, `skipped` or `unreachable`.
#[derive(Debug, Clone, PartialEq)]
pub struct Reported {
    pub status: String,
    pub result: Value,
}

/// Run the invocation; each host gets its result, or why there is none.
pub async fn run(invocation: &Invocation) -> HashMap<String, Result<Reported, String>> {
    let failed_all = |why: String| {
        invocation
            .hosts
            .iter()
            .map(|h| (h.host.clone(), Err(why.clone())))
            .collect()
    };
    let Some(ansible) = Ansible::find() else {
        return failed_all(format!(
            "`{}` is not a module zdd runs natively, and no Ansible is found to run it: {}",
            invocation.module,
            install_hint(&invocation.module)
        ));
    };
    match run_with(&ansible, invocation).await {
        Ok(results) => results,
        Err(why) => failed_all(why),
    }
}

async fn run_with(
    ansible: &Ansible,
    invocation: &Invocation,
) -> Result<HashMap<String, Result<Reported, String>>, String> {
    let private = tempfile::Builder::new()
        .prefix("zdd-ansible-")
        .tempdir()
        .map_err(|e| format!("cannot make a temporary directory: {e}"))?;
    let dir = private.path();
    let write = |name: &str, text: &str| -> Result<PathBuf, String> {
        use std::io::Write;
        use std::os::unix::fs::OpenOptionsExt;
        let path = dir.join(name);
        let mut file = std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(0o600)
            .open(&path)
            .and_then(|mut f| f.write_all(text.as_bytes()).map(|_| f))
            .map_err(|e| format!("cannot write {}: {e}", path.display()))?;
        file.flush().map_err(|e| e.to_string())?;
        Ok(path)
    };
    let inventory = write("inventory.yml", &inventory_yaml(&invocation.hosts))?;
    let playbook = write("task.yml", &playbook_yaml(&invocation.module))?;
    std::fs::create_dir(dir.join("callback")).map_err(|e| e.to_string())?;
    write("callback/zdd_results.py", CALLBACK)?;
    let results = dir.join("results.jsonl");
    let mut command = tokio::process::Command::new(&ansible.playbook);
    command
        .arg("-i")
        .arg(&inventory)
        .arg(&playbook)
        .current_dir(&invocation.dir)
        .env("ZDD_ANSIBLE_RESULTS", &results)
        .env("ANSIBLE_CALLBACK_PLUGINS", dir.join("callback"))
        .env("ANSIBLE_STDOUT_CALLBACK", "zdd_results")
        // No other callback sees the results (one could print or log them): the only
        // one enabled is the stdout callback itself, which Ansible loads once.
        .env("ANSIBLE_CALLBACKS_ENABLED", "zdd_results")
        .env("ANSIBLE_LOG_PATH", "/dev/null")
        .env("ANSIBLE_RETRY_FILES_ENABLED", "0")
        .env("ANSIBLE_FORKS", invocation.forks.max(1).to_string())
        .env("ANSIBLE_LIBRARY", library_path(&invocation.library))
        .env("ANSIBLE_NOCOLOR", "1")
        // zdd asked for the passwords already; they are in the inventory.
        .env("ANSIBLE_BECOME_ASK_PASS", "0")
        .env("ANSIBLE_ASK_PASS", "0")
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .kill_on_drop(true);
    if std::env::var_os("ANSIBLE_PYTHON_INTERPRETER").is_none() {
        command.env("ANSIBLE_PYTHON_INTERPRETER", "auto_silent");
    }
    let no_log = invocation.hosts.iter().any(|h| h.no_log);
    if no_log {
        command.env("ANSIBLE_NO_TARGET_SYSLOG", "1");
    }
    let output = command
        .output()
        .await
        .map_err(|e| format!("cannot run {}: {e}", ansible.playbook.display()))?;
    let text = std::fs::read_to_string(&results).unwrap_or_default();
    let mut reported: HashMap<String, Result<Reported, String>> = HashMap::new();
    for line in text.lines() {
        let Ok(record) = serde_json::from_str::<Value>(line) else {
            continue;
        };
        let (Some(host), Some(status)) = (record["host"].as_str(), record["status"].as_str()) else {
            continue;
        };
        let result = record.get("result").cloned().unwrap_or(Value::Null);
        reported.insert(
            host.to_owned(),
            Ok(Reported {
                status: status.to_owned(),
                result,
            }),
        );
    }
    // Hosts Ansible reported nothing for: it stopped before the task (a bad playbook, a
    // module it cannot find). Its own words, unless they might hold a secret.
    let why = if no_log {
        format!(
            "ansible-playbook exited with {} before reporting on this host (output hidden: no_log)",
            output.status.code().unwrap_or(-1)
        )
    } else {
        let stderr = String::from_utf8_lossy(&output.stderr);
        let stdout = String::from_utf8_lossy(&output.stdout);
        let said: Vec<&str> = stderr
            .lines()
            .chain(stdout.lines())
            .filter(|l| !l.trim().is_empty())
            .filter(|l| !l.contains("[DEPRECATION WARNING]"))
            .collect();
        let tail = said[said.len().saturating_sub(6)..].join("\n");
        format!(
            "ansible-playbook exited with {} before reporting on this host: {tail}",
            output.status.code().unwrap_or(-1)
        )
    };
    for h in &invocation.hosts {
        reported.entry(h.host.clone()).or_insert_with(|| Err(why.clone()));
    }
    Ok(reported)
}

/// Ansible's warning about a template in task args: the template is zdd's own (the
/// arguments come literally, from `!unsafe` values), so it says nothing to the user.
const ARGSPLAT_WARNING: &str = "Using a template for task args is unsafe";

/// A host's result from Ansible as a zdd module result.
pub fn module_result(reported: Reported) -> Result<ModuleResult, HostError> {
    let Value::Object(mut map) = reported.result else {
        return Ok(ModuleResult::failed("Ansible returned no result"));
    };
    let text = |map: &mut Map<String, Value>, key: &str| match map.remove(key) {
        Some(Value::String(s)) => Some(s),
        Some(Value::Null) | None => None,
        Some(other) => Some(other.to_string()),
    };
    if reported.status == "unreachable" {
        let msg = text(&mut map, "msg").unwrap_or_else(|| "unreachable".into());
        return Err(HostError::Unreachable(msg));
    }
    map.retain(|k, _| !k.starts_with("_ansible"));
    let mut result = ModuleResult {
        changed: map.remove("changed").is_some_and(|c| crate::vars::truthy(&c)),
        failed: reported.status == "failed" || map.remove("failed").is_some_and(|f| crate::vars::truthy(&f)),
        msg: text(&mut map, "msg"),
        rc: map.remove("rc").and_then(|rc| rc.as_i64()).map(|rc| rc as i32),
        stdout: text(&mut map, "stdout"),
        stderr: text(&mut map, "stderr"),
        ..Default::default()
    };
    if let Some(Value::Object(facts)) = map.remove("ansible_facts") {
        // `discovered_interpreter_python` included: a fact in Ansible too, and the
        // interpreter later invocations use.
        result.facts = facts.into_iter().collect();
    }
    if let Some(Value::Array(warnings)) = map.remove("warnings") {
        let kept: Vec<Value> = warnings
            .into_iter()
            .filter(|w| !w.as_str().is_some_and(|w| w.starts_with(ARGSPLAT_WARNING)))
            .collect();
        if !kept.is_empty() {
            map.insert("warnings".into(), Value::Array(kept));
        }
    }
    if reported.status == "skipped" {
        map.insert("skipped".into(), json!(true));
    }
    result.extra = map;
    Ok(result)
}

/// The generated inventory: every host with its variables, every string `!unsafe`.
fn inventory_yaml(hosts: &[HostEntry]) -> String {
    let mut out = String::from("all:\n  hosts:\n");
    for h in hosts {
        out.push_str(&format!(
            "    {}: {}\n",
            yaml_string(&h.host, false),
            unsafe_yaml(&Value::Object(h.vars.clone()))
        ));
    }
    out
}

/// The one-task playbook: the module with the host's `zdd_args`, its environment, check
/// and diff mode.
fn playbook_yaml(module: &str) -> String {
    format!(
        "- hosts: all\n  gather_facts: false\n  tasks:\n    - {}: \"{{{{ zdd_args }}}}\"\n      environment: \"{{{{ zdd_env }}}}\"\n      check_mode: \"{{{{ zdd_check }}}}\"\n      diff: \"{{{{ zdd_diff }}}}\"\n",
        yaml_string(module, false)
    )
}

/// `value` as a YAML flow value whose every string is tagged `!unsafe`: Ansible keeps it
/// as it is, `{{` included.
fn unsafe_yaml(value: &Value) -> String {
    match value {
        Value::Null => "null".into(),
        Value::Bool(b) => b.to_string(),
        Value::Number(n) => n.to_string(),
        Value::String(s) => yaml_string(s, true),
        Value::Array(items) => {
            let items: Vec<String> = items.iter().map(unsafe_yaml).collect();
            format!("[{}]", items.join(", "))
        }
        Value::Object(map) => {
            let entries: Vec<String> = map
                .iter()
                .map(|(k, v)| format!("{}: {}", yaml_string(k, false), unsafe_yaml(v)))
                .collect();
            format!("{{{}}}", entries.join(", "))
        }
    }
}

/// A double-quoted YAML string; characters YAML may not hold raw are escaped.
fn yaml_string(s: &str, tag_unsafe: bool) -> String {
    let mut out = String::with_capacity(s.len() + 12);
    if tag_unsafe {
        out.push_str("!unsafe ");
    }
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\t' => out.push_str("\\t"),
            '\r' => out.push_str("\\r"),
            ' '..='~' | '\u{a0}'..='\u{d7ff}' | '\u{e000}'..='\u{fffd}' | '\u{10000}'.. => out.push(c),
            c if (c as u32) <= 0xff => out.push_str(&format!("\\x{:02x}", c as u32)),
            c => out.push_str(&format!("\\u{:04x}", c as u32)),
        }
    }
    out.push('"');
    out
}

/// The `library/` directories Ansible looks in for a task: the role's, then the
/// playbook's (and the project's, one level up, as `find_local_file` looks).
pub fn library_dirs(playbook_dir: &Path, role_path: Option<&Path>) -> Vec<PathBuf> {
    let mut dirs = Vec::new();
    if let Some(role) = role_path {
        dirs.push(role.join("library"));
    }
    dirs.push(playbook_dir.join("library"));
    dirs.into_iter().filter(|d| d.is_dir()).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn strings_are_unsafe_and_escaped() {
        let v = json!({"path": "/tmp/{{ x }}", "n": 3, "on": true, "list": ["a\"b", "c\\d\n"]});
        assert_eq!(
            unsafe_yaml(&v),
            r#"{"path": !unsafe "/tmp/{{ x }}", "n": 3, "on": true, "list": [!unsafe "a\"b", !unsafe "c\\d\n"]}"#
        );
        assert_eq!(yaml_string("a\u{7}b\u{85}", true), r#"!unsafe "a\x07b\x85""#);
    }

    #[test]
    fn the_playbook_reads_the_hosts_variables() {
        let p = playbook_yaml("community.general.ini_file");
        assert!(
            p.contains("- \"community.general.ini_file\": \"{{ zdd_args }}\""),
            "{p}"
        );
        assert!(p.contains("check_mode: \"{{ zdd_check }}\""), "{p}");
    }

    #[test]
    fn connection_vars_carry_zdds_resolution() {
        let mut spec = ConnectSpec::named("web1");
        spec.address = "127.0.0.5".into();
        spec.port = Some(2222);
        spec.user = Some("deploy".into());
        spec.ssh_args = vec!["-o".into(), "UserKnownHostsFile=/tmp/k h".into()];
        let vars = connection_vars(&spec, Some(&Become::sudo("root")));
        assert_eq!(vars["ansible_host"], json!("127.0.0.5"));
        assert_eq!(vars["ansible_port"], json!(2222));
        assert_eq!(vars["ansible_user"], json!("deploy"));
        assert_eq!(
            vars["ansible_ssh_common_args"],
            json!("-o 'UserKnownHostsFile=/tmp/k h'")
        );
        assert_eq!(vars["ansible_become_user"], json!("root"));
        assert_eq!(vars["ansible_become_method"], json!("sudo"));
    }

    #[test]
    fn results_become_zdds_own() {
        let r = module_result(Reported {
            status: "ok".into(),
            result: json!({"changed": true, "msg": "done", "custom": {"n": 1}, "_ansible_no_log": false,
                "ansible_facts": {"discovered_interpreter_python": "/usr/bin/python3", "x": 1},
                "warnings": ["Using a template for task args is unsafe in some situations"]}),
        })
        .unwrap();
        assert!(r.changed && !r.failed);
        assert_eq!(r.msg.as_deref(), Some("done"));
        assert_eq!(r.extra, json!({"custom": {"n": 1}}).as_object().unwrap().clone());
        assert_eq!(r.facts.len(), 2);
        let failed = module_result(Reported {
            status: "failed".into(),
            result: json!({"msg": "boom", "rc": 3}),
        })
        .unwrap();
        assert!(failed.failed && failed.rc == Some(3));
        let unreachable = module_result(Reported {
            status: "unreachable".into(),
            result: json!({"msg": "ssh: no route"}),
        });
        assert!(matches!(unreachable, Err(HostError::Unreachable(m)) if m == "ssh: no route"));
    }

    #[test]
    fn args_are_checked_against_the_documentation() {
        let doc = ModuleDoc {
            options: BTreeMap::from([
                (
                    "path".to_owned(),
                    OptionDoc {
                        required: true,
                        aliases: vec!["dest".into()],
                        choices: vec![],
                    },
                ),
                (
                    "state".to_owned(),
                    OptionDoc {
                        required: false,
                        aliases: vec![],
                        choices: vec![json!("present"), json!("absent")],
                    },
                ),
            ]),
        };
        assert!(check_args("m", &doc, &json!({"dest": "/x", "state": "absent"})).is_empty());
        assert!(check_args("m", &doc, &json!({"path": "/x", "state": "{{ s }}"})).is_empty());
        let problems = check_args("m", &doc, &json!({"paht": "/x", "state": "gone"}));
        let messages: Vec<&str> = problems.iter().map(|p| p.message.as_str()).collect();
        assert_eq!(
            messages,
            [
                "`m` has no argument `paht` (Ansible's documentation of the module)",
                "`state` must be one of present, absent, got `gone`",
                "`m` needs the argument `path`",
            ]
        );
        assert_eq!(problems[0].hint.as_deref(), Some("did you mean `path`?"));
    }

    #[test]
    fn install_hints_name_the_collection() {
        assert_eq!(
            collection_of("community.docker.docker_container").as_deref(),
            Some("community.docker")
        );
        assert_eq!(collection_of("nagios").as_deref(), Some("community.general"));
        assert_eq!(collection_of("my_custom_thing"), None);
        assert!(install_hint("community.general.nagios")
            .contains("ansible-galaxy collection install community.general"));
    }
}
